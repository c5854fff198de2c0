"""A job in which one rank fails (tests/distributed/test_faults.py). argv[1]: how.

raise-in-collective: rank 1 raises while the others wait in an all_reduce
raise-before-init:   rank 1 raises before init_process_group
exit-status:         rank 1 calls sys.exit(3)
timeout:             rank 1 never joins the all_reduce; the others' 2 s timeout ends the job
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta

import plugrad
import plugrad.distributed as dist

how = sys.argv[1]
first_rank = int(os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")))
if how == "raise-before-init" and first_rank == 1:
    raise ValueError("rank 1 failed before joining")
dist.init_process_group(timeout=timedelta(seconds=2) if how == "timeout" else None)
rank = dist.get_rank()
if rank == 1:
    if how == "raise-in-collective":
        time.sleep(0.5)  # the others are waiting in all_reduce by now
        raise ValueError("rank 1 failed mid-training")
    if how == "exit-status":
        sys.exit(3)
    if how == "timeout":
        time.sleep(600)  # never reaches the all_reduce: the others time out, aborting the job
dist.all_reduce(plugrad.ones(4))
print(f"rank {rank} finished", flush=True)
