"""The training and dtype workloads of the benchmarks (benchmarks/common.py), exercised at tiny
sizes. The oracle: plugrad's workload and its torch peer start from the same weights
(common.shared_weights) and, trained in float64 on the same batches with dropout off, have the
same loss at every step and the same weights after it. No timings are checked."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import plugrad

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import bench_arrays, bench_training, common  # noqa: E402

torch = pytest.importorskip("torch")

DEVICES = [d for d in ("c_cpu", "numpy_ref") if d in plugrad.available_devices()]
TINY_LSTM = {"shape": (5, 3, 4), "hidden": 6, "layers": 2}
# model: (steps, sizes). Two steps or more, so the second loss tests the first update.
TINY = {
    "transformer": (2, {}),
    "digits_cnn": (3, {}),
    "lstm": (3, TINY_LSTM),
    "mlp": (2, {}),
    "cnn": (2, {}),
}


def _numpy(t) -> np.ndarray:
    return t.detach().numpy() if hasattr(t, "requires_grad_") else t.numpy()


def _train(lib, device, model, dtype="float64"):
    steps, sizes = TINY[model]
    trainer = common.Trainer(lib, device, model, steps, dtype=dtype, dropout=False, **sizes)
    losses = [float(trainer.step(xb, yb).item()) for xb, yb in trainer.data]
    weights = {n: _numpy(p).astype(np.float64) for n, p in trainer.net.named_parameters()}
    return trainer, losses, weights


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("model", list(TINY))
def test_plugrad_and_torch_train_alike_from_the_same_weights(device, model):
    ours, our_losses, our_weights = _train("plugrad", device, model)
    theirs, their_losses, their_weights = _train("torch", None, model)
    assert len(our_losses) == TINY[model][0]
    assert our_losses == pytest.approx(their_losses, rel=1e-9, abs=1e-12)
    assert set(our_weights) == set(their_weights)
    # AdamW divides by the gradient's size: the conv biases before BatchNorm, whose exact
    # gradient is 0, move by rounding noise in either library (a few 1e-10 in float64).
    for name, value in our_weights.items():
        np.testing.assert_allclose(value, their_weights[name], rtol=1e-7, atol=1e-8, err_msg=name)
    assert any(  # the steps changed the weights
        not np.allclose(value, common.shared_weights([(name, value.shape)])[name])
        for name, value in our_weights.items()
    )


def test_shared_weights_are_deterministic_and_shaped():
    shapes = [("b.bias", (3,)), ("a.weight", (4, 2, 3, 3)), ("n.weight", (5,))]
    first, second = common.shared_weights(shapes), common.shared_weights(shapes)
    assert {k: v.shape for k, v in first.items()} == dict(shapes)
    for k in first:
        np.testing.assert_array_equal(first[k], second[k])
    assert np.abs(first["a.weight"]).max() <= 1 / np.sqrt(18)
    assert np.abs(first["n.weight"] - 1).max() <= 0.1 and np.abs(first["b.bias"]).max() <= 0.1


@pytest.mark.parametrize("device", DEVICES)
def test_the_digits_cnn_workload_is_the_demos_model_and_epoch(device):
    from plugrad.demo import build_model

    trainer = common.Trainer("plugrad", device, "digits_cnn")
    assert repr(trainer.net) == repr(build_model("cnn"))
    assert len(trainer.data) == 45 and tuple(trainer.data[0][0].shape) == (32, 64)
    assert type(trainer.opt).__name__ == "AdamW" and trainer.schedule.T_max == 450
    peer = common.Trainer("torch", None, "digits_cnn")
    assert len(peer.data) == 45 and peer.schedule.T_max == 450


def test_the_new_cases_are_in_the_report_with_issue_13s_targets():
    targets = {
        "transformer_step": 1.2,
        "conv2d_fwd_bwd": 1.0,
        "cnn_epoch": 1.2,
        "lstm_step": 1.5,
    }
    for key, ratio in targets.items():
        case = common.CASE_BY_KEY[key]
        assert case.peers == ("torch",) and case.target.peer == "torch"
        assert case.target.max_ratio == ratio
        assert key in common.cases_with_peer("torch")


@pytest.mark.parametrize("device", DEVICES)
def test_the_asv_training_suites_run_the_new_workloads(device, monkeypatch):
    monkeypatch.setattr(common, "LSTM_SHAPE", TINY_LSTM["shape"])
    monkeypatch.setattr(common, "LSTM_HIDDEN", TINY_LSTM["hidden"])
    monkeypatch.setattr(common, "DEMO_TRAIN_SAMPLES", 64)
    for suite, method in (
        (bench_training.LSTMStep, "time_step"),
        (bench_training.CNNEpoch, "time_epoch"),
        (bench_training.TransformerStep, "time_step"),
    ):
        bench = suite()
        bench.setup(device)
        getattr(bench, method)(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", common.FLOAT_DTYPES)
def test_dtype_workloads_compute_the_float32_result_rounded(device, dtype, monkeypatch):
    tol = {"float32": 1e-5, "float16": 2e-2, "bfloat16": 1e-1}[dtype]
    ours = common.matmul("plugrad", device, n=16, dtype=dtype)()[0]
    peer = common.matmul("torch", n=16, dtype=dtype)()[0]
    exact = common.matmul("numpy", n=16)()[0]
    assert ours.dtype.name == dtype and str(peer.dtype) == f"torch.{dtype}"
    np.testing.assert_allclose(ours.astype("float32").numpy(), exact, rtol=tol, atol=tol * 16)
    np.testing.assert_allclose(peer.float().numpy(), exact, rtol=tol, atol=tol * 16)
    added = common.elementwise("plugrad", device, op="add", n=100, dtype=dtype)()[0]
    exact_add = common.elementwise("numpy", op="add", n=100)()[0]
    assert added.dtype.name == dtype
    np.testing.assert_allclose(added.astype("float32").numpy(), exact_add, rtol=tol, atol=tol)

    monkeypatch.setattr(common, "DTYPE_MATMUL_N", 16)
    monkeypatch.setattr(common, "DTYPE_ELEMENTWISE_N", 100)
    suites = ((bench_arrays.MatmulDtypes, "time_matmul"), (bench_arrays.AddDtypes, "time_add"))
    for suite, method in suites:
        bench = suite()
        bench.setup(device, dtype)
        getattr(bench, method)(device, dtype)
        ratio = bench.track_vs_float32(device, dtype)
        assert ratio > 0 and (dtype != "float32" or ratio == 1.0)
