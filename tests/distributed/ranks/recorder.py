"""What the rank scripts share: named checks whose outcomes each rank writes to a JSON file.

A failing check records its traceback and the script goes on, so that one launch reports every
check; the pytest side (tests/distributed/launching.py) turns each name into a test.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from contextlib import contextmanager

import numpy as np

import plugrad
from plugrad.backend.registry import register_backend


class Recorder:
    def __init__(self, rank: int) -> None:
        self.rank = rank
        self.results: dict[str, str] = {}

    @contextmanager
    def check(self, name: str):
        if name in self.results:
            raise RuntimeError(f"check {name!r} recorded twice")
        if os.environ.get("PLUGRAD_TEST_TRACE"):
            print(f"rank {self.rank}: {name}", file=sys.stderr, flush=True)
        try:
            yield
        except Exception:  # noqa: BLE001 - recorded, reported by pytest
            self.results[name] = traceback.format_exc()
        else:
            self.results[name] = "ok"

    def write(self) -> None:
        out = sys.argv[1]
        path = os.path.join(out, f"rank{self.rank}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(self.results, f)
        os.replace(path + ".tmp", path)


def close(a: np.ndarray, b: np.ndarray, dtype: plugrad.DType, what: str) -> None:
    """Floating results within rounding of the summation order; everything else exact."""
    if dtype.is_floating:
        tol = 1e-5 if dtype.itemsize == 4 else 1e-12
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=what)
    else:
        np.testing.assert_array_equal(a, b, err_msg=what)


def register_staged_device() -> str:
    """A device the collectives must stage through host memory: numpy_ref under another name,
    reported as not a host backend, whose to_numpy hands out copies (so a write through it
    would be lost, as it would be on a GPU)."""
    from plugrad_numpy_ref.backend import NumpyRefBackend, _view

    class Staged(NumpyRefBackend):
        name = "staged"
        is_host = False

        def to_numpy(self, x):  # noqa: ANN001, ANN201
            return _view(x).copy()

    register_backend(Staged())
    return "staged"
