"""Data parallelism on MPI: the CNN training step on 2 processes (DistributedDataParallel) and
on 1, one thread each, from benchmarks/tools/ddp_scaling.py (which also prints a report).

track_speedup: throughput of 2 processes / 1 process (weak scaling: each process its own batch
of 64); track_ceiling: the same for 2 independent processes without communication, what the
machine's cores allow at that moment; track_overlap_share: the share of backward during which
an all-reduce was in flight. Skipped without mpi4py and an mpiexec.
"""

import json
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).parent / "tools" / "ddp_scaling.py"


class DDPScaling:
    timeout = 600
    rounds = 1
    repeat = 1
    warmup_time = 0.0

    def setup_cache(self):
        try:
            import mpi4py  # noqa: F401

            from plugrad.distributed.launch import find_mpiexec

            find_mpiexec()
        except Exception as exc:
            raise NotImplementedError(f"no MPI for the distributed benchmark: {exc!r}") from exc
        out = subprocess.run(
            [sys.executable, str(TOOL), "--json", "--repeats", "3"],
            capture_output=True, text=True, check=True, timeout=600,
        ).stdout  # fmt: skip
        return json.loads(out.strip().splitlines()[-1])

    def track_speedup(self, result):
        return result["speedup"]

    track_speedup.unit = "x (2 processes / 1)"

    def track_ceiling(self, result):
        return result["ceiling"]

    track_ceiling.unit = "x (2 independent processes / 1)"

    def track_overlap_share(self, result):
        return result["overlap_share"]

    track_overlap_share.unit = "share of backward"
