"""The `plugrad` command: `plugrad backends [--json]`, `plugrad demo [...]`, `plugrad run -n N
script.py [args]`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


def _backends(args: argparse.Namespace) -> int:
    from .backend.protocol import OPTIONAL_KERNELS
    from .backend.registry import backend_report, get_device

    records = backend_report()
    try:
        cpu = get_device("cpu").name
    except ValueError:
        cpu = None
    if args.json:
        print(json.dumps({"backends": [r.as_dict() for r in records], "cpu": cpu}, indent=2))
        return 0
    if not records:
        print("no plugrad backends installed (entry-point group plugrad.backends)")
        return 1
    rows = [("name", "distribution", "version", "status", "fused kernels", "dtypes")]
    for r in records:
        status = "available" if r.available else "unavailable"
        fused = f"{len(r.fused)} of {len(OPTIONAL_KERNELS)}" if r.available else ""
        rows.append((r.name, r.distribution, r.version, status, fused, ", ".join(r.dtypes)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    for r in records:
        if not r.available:
            print(f"\n{r.name}: {r.reason}")
    if cpu:
        print(f"\n'cpu' resolves to {cpu}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="plugrad", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("backends", help="list installed backends and their status")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    commands.add_parser("demo", help="train an MLP on digits (options: plugrad demo --help)",
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
    return _backends(args)


if __name__ == "__main__":
    sys.exit(main())
