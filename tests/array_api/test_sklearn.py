"""scikit-learn with `array_api_dispatch=True` accepts plugrad tensors (through
`__array_namespace__` and array-api-compat) and gives NumPy's results. SciPy reads
SCIPY_ARRAY_API when it is first imported, so the cases run in one fresh interpreter (one
start for all of them); each case reports its own result or traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn comes with the data extra (make test)")
pytest.importorskip("array_api_compat", reason="array-api-compat comes with the test extra")

SCRIPT = textwrap.dedent(
    """
    import json, sys, traceback
    import numpy as np
    import sklearn
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import Ridge
    from sklearn.metrics import accuracy_score, mean_squared_error, r2_score
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    import plugrad

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5)) * [1.0, 3.0, 0.5, 2.0, 1.0] + [0.0, 1.0, -2.0, 0.0, 5.0]
    y = X @ rng.standard_normal(5) + 0.1 * rng.standard_normal(60)
    labels = (X[:, 0] + X[:, 1] > 1).astype(np.int64) + (X[:, 2] > -2)
    cases = {
        "StandardScaler": lambda X, y, l: StandardScaler().fit_transform(X),
        "MinMaxScaler": lambda X, y, l: MinMaxScaler().fit_transform(X),
        "PCA": lambda X, y, l: PCA(n_components=3, svd_solver="full").fit_transform(X),
        "Ridge(solver='svd')": lambda X, y, l: Ridge(alpha=0.5, solver="svd").fit(X, y).predict(X),
        "LinearDiscriminantAnalysis":
            lambda X, y, l: LinearDiscriminantAnalysis().fit(X, l).predict(X),
        "accuracy_score": lambda X, y, l: accuracy_score(l, l[::-1]),
        "r2_score": lambda X, y, l: r2_score(y, 0.9 * y + 0.1),
        "mean_squared_error": lambda X, y, l: mean_squared_error(y, 0.9 * y + 0.1),
    }
    def run(device, case):
        on = lambda a: plugrad.tensor(a, device=device,
                                      dtype=plugrad.dtypes.from_numpy_dtype(a.dtype))
        expected = np.asarray(cases[case](X, y, labels), dtype=float)
        with sklearn.config_context(array_api_dispatch=True):
            got = cases[case](on(X), on(y), on(labels))
        kind = type(got).__module__.split(".")[0]
        got = got.numpy() if hasattr(got, "numpy") else np.asarray(got)
        return {"kind": kind, "got": np.asarray(got, dtype=float).tolist(),
                "expected": expected.tolist()}

    results = {}
    for device in sys.argv[1:]:
        for case in cases:
            try:
                results[f"{device} {case}"] = run(device, case)
            except Exception:
                results[f"{device} {case}"] = {"error": traceback.format_exc()}
    print(json.dumps(results))
    """
)
CASES = ["StandardScaler", "MinMaxScaler", "PCA", "Ridge(solver='svd')",
         "LinearDiscriminantAnalysis", "accuracy_score", "r2_score",
         "mean_squared_error"]  # fmt: skip
ESTIMATORS = CASES[:5]


DEVICES = ["numpy_ref", "c_cpu"]


@pytest.fixture(scope="module")
def results() -> dict:
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, *DEVICES], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("device", DEVICES)
def test_sklearn_accepts_plugrad_tensors_and_gives_numpys_results(results, device, case):
    result = results[f"{device} {case}"]
    assert "error" not in result, result.get("error")
    if case in ESTIMATORS:
        assert result["kind"] == "plugrad", "an estimator on plugrad input returns plugrad arrays"
    np.testing.assert_allclose(result["got"], result["expected"], rtol=1e-10, atol=1e-10)
