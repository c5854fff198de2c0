"""The `plugrad` command."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import plugrad


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "plugrad", *args], capture_output=True, text=True)


def test_backends_lists_numpy_ref_available():
    result = run("backends")
    assert result.returncode == 0, result.stderr
    line = next(l for l in result.stdout.splitlines() if l.startswith("numpy_ref"))
    assert "plugrad-numpy-ref" in line and "available" in line and "float64" in line


def test_backends_json():
    data = json.loads(run("backends", "--json").stdout)
    names = {b["name"]: b for b in data["backends"]}
    assert names["numpy_ref"]["available"] is True
    assert set(names["numpy_ref"]["dtypes"]) == set(plugrad.dtypes.ALL)  # every dtype
    assert data["cpu"] in names
    # numpy_ref implements only the required protocol; c_cpu every optional fused kernel
    assert names["numpy_ref"]["fused_kernels"] == []
    assert names["c_cpu"]["fused_kernels"] == [
        "relu_backward", "axpy", "cross_entropy", "cross_entropy_backward", "softmax",
        "softmax_backward", "log_softmax", "log_softmax_backward", "lstm_gates",
        "lstm_gates_backward",
    ]  # fmt: skip
    # numpy_ref has every optional linalg kernel (NumPy's LAPACK); c_cpu uses the host fallback
    linalg = ["linalg_cholesky", "linalg_solve", "linalg_slogdet", "linalg_qr", "linalg_eigh",
              "linalg_svd"]  # fmt: skip
    assert names["numpy_ref"]["linalg_kernels"] == linalg
    assert names["c_cpu"]["linalg_kernels"] == []


def test_backends_table_counts_the_fused_kernels():
    lines = run("backends").stdout.splitlines()
    assert "fused kernels" in lines[0]
    assert "10 of 10" in next(l for l in lines if l.startswith("c_cpu"))
    assert "0 of 10" in next(l for l in lines if l.startswith("numpy_ref"))


def test_backends_table_counts_the_linalg_kernels_and_names_the_host_fallback():
    lines = run("backends").stdout.splitlines()
    assert "linalg kernels" in lines[0]
    assert "6 of 6" in next(l for l in lines if l.startswith("numpy_ref"))
    assert "0 of 6 (others on host)" in next(l for l in lines if l.startswith("c_cpu"))


def test_backends_env_restriction():
    import os

    env = dict(os.environ, PLUGRAD_BACKENDS="numpy_ref")
    result = subprocess.run([sys.executable, "-m", "plugrad", "backends", "--json"],
                            capture_output=True, text=True, env=env)  # fmt: skip
    assert [b["name"] for b in json.loads(result.stdout)["backends"]] == ["numpy_ref"]


def test_demo_with_an_unknown_device_says_which_exist_in_one_line():
    import plugrad

    result = run("demo", "--device", "nosuch")
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()  # one line, no traceback
    assert line.startswith("plugrad demo: unknown device 'nosuch'")
    assert all(name in line for name in plugrad.available_devices())


def test_demo_with_an_unknown_default_device_from_the_environment():
    import os

    env = dict(os.environ, PLUGRAD_DEVICE="nosuch")
    result = subprocess.run([sys.executable, "-m", "plugrad", "demo"],
                            capture_output=True, text=True, env=env)  # fmt: skip
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "'nosuch'" in result.stderr


def test_an_empty_filter_names_the_installed_plugins():
    import os

    env = dict(os.environ, PLUGRAD_BACKENDS="nonexistent")
    table = subprocess.run([sys.executable, "-m", "plugrad", "backends"], capture_output=True,
                           text=True, env=env)  # fmt: skip
    assert "PLUGRAD_BACKENDS='nonexistent'" in table.stdout
    installed = sorted({ep.name for ep in metadata.entry_points(group="plugrad.backends")})
    assert f"left out the installed plugins {', '.join(installed)}" in table.stdout
    assert "no installed plugin is named nonexistent" in table.stdout
    listing = subprocess.run([sys.executable, "-m", "plugrad", "backends", "--json"],
                             capture_output=True, text=True, env=env)  # fmt: skip
    data = json.loads(listing.stdout)
    assert data["backends"] == [] and data["cpu"] is None
    assert data["filter"] == {"PLUGRAD_BACKENDS": "nonexistent",
                              "left_out": installed,
                              "unknown_names": ["nonexistent"]}  # fmt: skip
