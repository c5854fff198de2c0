"""A rank that fails ends the whole job with a non-zero status and its traceback, instead of
leaving the other ranks blocked. The subprocess timeout (a minute) is the bound: a hang fails
the test; no test measures how fast the job ended."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import RANKS, launch, needs_mpi

from plugrad.distributed.launch import find_mpiexec

pytestmark = needs_mpi
BOUND_S = 60
SCRIPT = str(RANKS / "fail.py")


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("raise-in-collective", "ValueError: rank 1 failed mid-training"),
        ("raise-before-init", "ValueError: rank 1 failed before joining"),
        ("exit-status", "rank 1 exited with status 3"),
        (
            "timeout",
            "DistributedTimeoutError: all_reduce (argument check) did not complete within 2 s",
        ),
    ],
)
def test_a_failing_rank_ends_the_job_under_plugrad_run(how, message):
    result = launch(2, SCRIPT, how, timeout=BOUND_S)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr[-3000:]
    assert "rank 1 finished" not in result.stdout


def test_a_rank_raising_after_init_ends_a_plain_mpiexec_job():
    cmd = [find_mpiexec(), "-n", "2", sys.executable, SCRIPT, "raise-in-collective"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=BOUND_S)
    assert result.returncode != 0
    assert "rank 1 of 2 raised; aborting the job" in result.stderr, result.stderr[-3000:]
    assert "ValueError: rank 1 failed mid-training" in result.stderr
