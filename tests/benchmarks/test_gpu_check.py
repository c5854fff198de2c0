"""`make gpu-check`'s benchmark tool (benchmarks/tools/gpu_check.py) without a GPU: each plugrad
workload, on emulated cuda, computes what its torch twin computes, and the tool refuses to run
without a CUDA build of torch. No timings are asserted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import plugrad

TOOL = Path(__file__).resolve().parents[2] / "benchmarks" / "tools" / "gpu_check.py"
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_without_a_cuda_torch_the_check_stops_with_a_reason(gpu_check, capsys):
    if torch.cuda.is_available():
        pytest.skip("torch has CUDA here: the check would run for real")
    assert gpu_check.main(["--scale", "32"]) == 2
    assert "torch has no CUDA device" in capsys.readouterr().out


def test_each_workload_gives_what_torch_gives(gpu_check):
    with plugrad.no_grad(), torch.no_grad():
        for case in gpu_check.cases(scale=32):
            host = gpu_check.inputs(case)
            ours = case.ours(*[plugrad.tensor(a, device="cuda") for a in host])
            theirs = case.theirs(*[torch.from_numpy(a) for a in host])
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-4,
                                       err_msg=case.name)  # fmt: skip


def test_median_seconds_synchronises_around_each_round(gpu_check):
    events = []
    seconds = gpu_check.median_seconds(
        lambda: events.append("call"), lambda: events.append("sync"), repeats=3, rounds=2
    )
    assert seconds >= 0
    assert events == ["call", "sync"] + ["sync", "call", "call", "call", "sync"] * 2
