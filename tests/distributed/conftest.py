"""Launching MPI jobs from the tests: `plugrad run -n N tests/distributed/ranks/<script>`.

Each launch costs about a second, so one script runs many named checks and every rank writes
their outcomes to a JSON file (ranks/recorder.py); a test asserts the outcomes of a family of
checks. The subprocess timeout only guards against a hang; nothing here measures speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

RANKS = Path(__file__).parent / "ranks"
HANG_GUARD_S = 300


def _missing() -> str | None:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py is not installed (pip install 'plugrad[distributed]')"
    from plugrad.distributed.launch import find_mpiexec

    try:
        find_mpiexec()
    except RuntimeError as error:
        return str(error)
    return None


MISSING = _missing()
needs_mpi = pytest.mark.skipif(MISSING is not None, reason=f"no MPI: {MISSING}")


def launch(n: int, *program: str, timeout: float = HANG_GUARD_S) -> subprocess.CompletedProcess:
    """`python -m plugrad run -n n *program`, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "plugrad", "run", "-n", str(n), *program],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


class Outcomes:
    """The named checks of one launch: {name: {rank: "ok" or a traceback}}."""

    def __init__(self, n: int, folder: Path, result: subprocess.CompletedProcess) -> None:
        self.n = n
        self.result = result
        self.by_name: dict[str, dict[int, str]] = {}
        for rank in range(n):
            path = folder / f"rank{rank}.json"
            if not path.exists():
                continue
            for name, outcome in json.loads(path.read_text()).items():
                self.by_name.setdefault(name, {})[rank] = outcome

    def assert_ok(self, prefix: str) -> int:
        """Every check whose name starts with prefix passed on every rank; returns how many."""
        log = f"exit status {self.result.returncode}\n{self.result.stdout}\n{self.result.stderr}"
        assert self.result.returncode == 0, log[-6000:]
        names = [k for k in self.by_name if k.startswith(prefix)]
        assert names, f"no check named {prefix}* ran; the job said:\n{log[-3000:]}"
        failures = []
        for name in names:
            ranks = self.by_name[name]
            assert set(ranks) == set(range(self.n)), f"{name} ran on ranks {sorted(ranks)} only"
            failures += [f"{name} on rank {r}:\n{t}" for r, t in ranks.items() if t != "ok"]
        assert not failures, "\n".join(failures)[:8000]
        return len(names)


def run_checks(script: str, n: int, folder: Path, *args: str) -> Outcomes:
    result = launch(n, str(RANKS / script), str(folder), *args)
    return Outcomes(n, folder, result)
