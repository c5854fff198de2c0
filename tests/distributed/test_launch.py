"""`plugrad run`: which mpiexec, the command line it builds, and its errors (no MPI job is
started here except where marked)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys

import pytest
from conftest import needs_mpi

from plugrad.distributed import launch


def fake_mpiexec(tmp_path, version_text: str) -> str:
    path = tmp_path / "mpiexec"
    path.write_text(f"#!/bin/sh\necho '{version_text}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    launch.flavour.cache_clear()
    return str(path)


def test_hydra_spelling_of_hosts_and_hostfile(tmp_path):
    mpiexec = fake_mpiexec(tmp_path, "HYDRA build details:")
    cmd = launch.command(4, ["train.py", "--lr", "0.1"], hosts="a:2,b:2", hostfile="hosts",
                         mpiexec=mpiexec)  # fmt: skip
    assert cmd == [mpiexec, "-n", "4", "-hosts", "a:2,b:2", "-f", "hosts", sys.executable,
                   "-m", launch.BOOTSTRAP, "train.py", "--lr", "0.1"]  # fmt: skip


def test_open_mpi_spelling_of_hosts_and_hostfile(tmp_path):
    mpiexec = fake_mpiexec(tmp_path, "mpiexec (Open MPI) 5.0.11")
    cmd = launch.command(2, ["t.py"], hosts="a,b", hostfile="h", mpiexec=mpiexec)
    assert cmd[:7] == [mpiexec, "-n", "2", "--host", "a,b", "--hostfile", "h"]


def test_plugrad_mpiexec_overrides_the_search(tmp_path, monkeypatch):
    mpiexec = fake_mpiexec(tmp_path, "HYDRA")
    monkeypatch.setenv("PLUGRAD_MPIEXEC", mpiexec)
    assert launch.find_mpiexec() == mpiexec
    monkeypatch.setenv("PLUGRAD_MPIEXEC", str(tmp_path / "absent"))
    with pytest.raises(RuntimeError, match="is not an executable"):
        launch.find_mpiexec()


def test_no_mpiexec_anywhere_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.delenv("PLUGRAD_MPIEXEC", raising=False)
    monkeypatch.setattr(launch.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match=r"plugrad\[distributed\]"):
        launch.find_mpiexec()


def test_bad_process_count_is_refused():
    with pytest.raises(ValueError, match="positive integer"):
        launch.command(0, ["t.py"], mpiexec="mpiexec")


def test_one_machine_shares_its_cores_among_the_ranks(monkeypatch):
    monkeypatch.delenv("PLUGRAD_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    env = launch._environment(2, several_machines=False)
    assert env["PLUGRAD_NUM_THREADS"] == str(max(1, (os.cpu_count() or 1) // 2))
    assert "PLUGRAD_NUM_THREADS" not in launch._environment(2, several_machines=True)
    monkeypatch.setenv("PLUGRAD_NUM_THREADS", "7")
    assert launch._environment(2, several_machines=False)["PLUGRAD_NUM_THREADS"] == "7"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "plugrad", "run", *args], capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_cli_print_shows_the_command(tmp_path):
    mpiexec = fake_mpiexec(tmp_path, "HYDRA")
    result = subprocess.run(
        [sys.executable, "-m", "plugrad", "run", "--print", "-n", "3", "-m", "mod", "x"],
        capture_output=True, text=True, env={**os.environ, "PLUGRAD_MPIEXEC": mpiexec},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [mpiexec, "-n", "3", sys.executable, "-m",
                                     launch.BOOTSTRAP, "-m", "mod", "x"]  # fmt: skip


def test_cli_without_a_program_says_so():
    result = run_cli("-n", "2")
    assert result.returncode == 2 and "give a script" in result.stderr


@needs_mpi
def test_cli_runs_a_script_on_two_ranks_and_passes_its_arguments(tmp_path):
    script = tmp_path / "hello.py"
    script.write_text(
        "import sys\nimport plugrad, plugrad.distributed as dist\n"
        "dist.init_process_group()\n"
        "t = plugrad.tensor([float(dist.get_rank())])\ndist.all_reduce(t)\n"
        "print(f'rank {dist.get_rank()}/{dist.get_world_size()} sum {t.item()} {sys.argv[1:]}')\n"
    )
    result = run_cli("-n", "2", str(script), "--flag", "x")
    assert result.returncode == 0, result.stderr
    said = sorted(
        re.findall(r"rank \d/2 sum 1\.0 \[[^]]*\]", result.stdout)
    )  # lines may interleave
    assert said == ["rank 0/2 sum 1.0 ['--flag', 'x']", "rank 1/2 sum 1.0 ['--flag', 'x']"]


@needs_mpi
def test_demo_on_two_processes_prints_what_one_process_would(tmp_path):
    checkpoint = str(tmp_path / "d.safetensors")
    result = subprocess.run(
        [sys.executable, "-m", "plugrad", "demo", "--distributed", "2", "--epochs", "1",
         "--checkpoint", checkpoint],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "2 processes (DistributedDataParallel), batch 16 per process, 32 in all" in out
    assert out.count("held-out accuracy:") == 1, "only rank 0 reports"
    assert "predictions agree on 100.00%" in out and os.path.exists(checkpoint)
