"""benchmarks/tools/ddp_scaling.py, the issue's scaling figure, runs end to end at toy sizes
(its numbers are speed and are only printed, never asserted; here it must produce them)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from conftest import needs_mpi

TOOL = Path(__file__).resolve().parents[2] / "benchmarks" / "tools" / "ddp_scaling.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("ddp_scaling", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_mpi
def test_scaling_reports_throughputs_and_overlap():
    r = load_tool().scaling(2, repeats=1, model="mlp", steps=2, batch=4, device="numpy_ref")
    assert r["processes"] == 2 and r["buckets"] >= 1
    assert r["single_samples_per_s"] > 0 and r["ddp_samples_per_s"] > 0
    assert r["speedup"] == r["ddp_samples_per_s"] / r["single_samples_per_s"]
    assert 0.0 <= r["overlap_share"] <= 1.0 and r["exposed_ms"] >= 0.0
