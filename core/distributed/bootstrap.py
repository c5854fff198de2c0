"""What `plugrad run` starts on each rank: `python -m plugrad.distributed.bootstrap script.py
[args]` (or `-m module [args]`).

It joins MPI before any of the program runs, then runs the program as `python script.py`
would. An exception (or a non-zero exit) that leaves the program, at any point, prints its
traceback and aborts the whole job, so that no rank waits forever for one that has gone: a rank
that failed before joining MPI would otherwise leave the others blocked in MPI_Init.
"""

from __future__ import annotations

import os
import runpy
import sys
import traceback

from .mpi import abort_job, import_mpi


def _abort(MPI: object, code: int) -> None:  # noqa: N803 - the module's name
    abort_job(MPI.COMM_WORLD, code)


def main(argv: list[str]) -> int:
    if not argv or (argv[0] == "-m" and len(argv) < 2):
        print("usage: python -m plugrad.distributed.bootstrap script.py [args] | -m module "
              "[args]", file=sys.stderr)  # fmt: skip
        return 2
    MPI = import_mpi()  # noqa: N806
    several = MPI.COMM_WORLD.Get_size() > 1
    try:
        if argv[0] == "-m":
            sys.argv = argv[1:]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = list(argv)
            sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exit:
        code = exit.code
        status = 0 if code is None else code if isinstance(code, int) else 1
        if status and several:
            if not isinstance(code, int):
                print(code, file=sys.stderr)
            print(f"plugrad run: rank {MPI.COMM_WORLD.Get_rank()} exited with status {status}; "
                  "aborting the job", file=sys.stderr)  # fmt: skip
            _abort(MPI, status)
        raise
    except BaseException as error:
        if not several:
            raise
        rank = MPI.COMM_WORLD.Get_rank()
        print(f"plugrad run: rank {rank} raised; aborting the job", file=sys.stderr)
        traceback.print_exc()
        _abort(MPI, 130 if isinstance(error, KeyboardInterrupt) else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
