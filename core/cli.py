"""The `plugrad` command: `plugrad backends [--json]`, `plugrad demo [...]`, `plugrad run -n N
script.py [args]`."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence


@contextlib.contextmanager
def _stdout_fd_to_stderr() -> Iterator[None]:
    """Point file descriptor 1 at stderr while plugins load, so that even what their C code
    prints cannot mix into the output (the registry redirects Python's sys.stdout itself)."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real stdout: nothing to protect
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _backends(args: argparse.Namespace) -> int:
    from .backend.protocol import LINALG_KERNELS, OPTIONAL_KERNELS
    from .backend.registry import _state, backend_report, filter_note, get_device

    with _stdout_fd_to_stderr():
        records = backend_report()
        try:
            cpu = get_device("cpu").name
        except ValueError:
            cpu = None
    note = filter_note()
    if args.json:
        listing = {"backends": [r.as_dict() for r in records], "cpu": cpu, "filter": None}
        if note:
            listing["filter"] = {
                "PLUGRAD_BACKENDS": _state.filter,
                "left_out": list(_state.left_out),
                "unknown_names": list(_state.unmatched),
            }
        print(json.dumps(listing, indent=2))
        return 0
    if not records:
        if note:
            print(f"no plugrad backend loaded: {note}")
        else:
            print("no plugrad backends installed (entry-point group plugrad.backends)")
        return 1
    rows = [("name", "distribution", "version", "status", "fused kernels", "linalg kernels",
             "dtypes")]  # fmt: skip
    for r in records:
        status = "unavailable"
        if r.available:
            status = f"available ({r.note})" if r.note else "available"
        fused = f"{len(r.fused)} of {len(OPTIONAL_KERNELS)}" if r.available else ""
        linalg = f"{len(r.linalg)} of {len(LINALG_KERNELS)}" if r.available else ""
        if r.available and len(r.linalg) < len(LINALG_KERNELS):
            linalg += " (others on host)"
        rows.append((r.name, r.distribution, r.version, status, fused, linalg,
                     ", ".join(r.dtypes)))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    for r in records:
        if not r.available:
            print(f"\n{r.name}: {r.reason}")
    if note:
        print(f"\n{note}")
    if cpu:
        print(f"\n'cpu' resolves to {cpu}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="plugrad", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("backends", help="list installed backends and their status")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    commands.add_parser("demo", help="train an MLP on digits, or --model lm: a character "
                        "language model on Python sources (options: plugrad demo --help)",
                        add_help=False)  # fmt: skip
    commands.add_parser("run", help="run a script on N MPI ranks (plugrad run -n 2 script.py)",
                        add_help=False)  # fmt: skip
    if argv[:1] == ["run"]:
        from .distributed.launch import main as run_main

        return run_main(argv[1:])
    if argv[:1] == ["demo"]:
        from .demo import main as demo_main

        return int(demo_main(argv[1:]) or 0)
    args = parser.parse_args(argv)
    try:
        return _backends(args)
    except BrokenPipeError:  # `plugrad backends | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
