"""`make compare`: plugrad on each backend against NumPy and torch, as a markdown table.

For every workload of `benchmarks.common.CASES` and every plugrad device, one child process
builds plugrad's version and the peers', and times them round-robin (`--repeats` samples each,
after a warm-up call); the table gives the medians and the ratios plugrad time / peer time,
and checks the targets (issues 4 and 13). Writes benchmarks/results/compare.md (or `--out`)
and prints it; `--update FILE` also replaces the table between the `<!-- compare:start -->` and
`<!-- compare:end -->` lines of FILE (the main README.md holds the latest one).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import common  # noqa: E402

PEER_TITLES = {"numpy": "NumPy", "torch": "torch"}
START, END = "<!-- compare:start -->", "<!-- compare:end -->"


@dataclass
class Row:
    case: common.Case
    device: str
    ours: float | None  # median seconds; None: not measurable (reason in `note`)
    peers: dict[str, float]
    note: str = ""

    def ratio(self, peer: str) -> float | None:
        if self.ours is None or peer not in self.peers:
            return None
        return self.ours / self.peers[peer]


def format_time(seconds: float | None) -> str:
    return "n/a" if seconds is None else common.format_seconds(seconds)


def format_ratio(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}"


def target_cell(row: Row) -> str:
    target = row.case.target
    if target is None:
        return ""
    ratio = row.ratio(target.peer)
    verdict = "n/a" if ratio is None else ("met" if ratio <= target.max_ratio else "not met")
    return (
        f"{target.text} (ratio vs {PEER_TITLES[target.peer]} <= {target.max_ratio:.2f}): "
        f"**{verdict}**"
    )


def measure_row(case: common.Case, device: str, repeats: int) -> Row:
    """plugrad on one device and the case's peers, built and timed interleaved in this
    process. What cannot run gets n/a: plugrad with the reason as the row's note."""
    runners, note = {}, ""
    for peer in case.peers:
        try:
            runners[peer] = case.build(peer)
        except NotImplementedError:  # torch not installed: an empty column
            pass
    try:
        runners["plugrad"] = case.build("plugrad", device)
    except NotImplementedError as exc:
        note = str(exc)
    try:
        samples = common.interleaved(runners, repeats)
    except Exception as exc:  # an op that exists but fails: report it, keep going
        return Row(case, device, None, {}, f"{type(exc).__name__}: {exc}")
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return Row(case, device, medians.pop("plugrad", None), medians, note)


def measure_isolated(case: common.Case, device: str, repeats: int) -> Row:
    """measure_row in a child process, so that a backend that crashes the interpreter (or
    leaks) costs its row only, and each row starts from a fresh process."""
    cmd = [sys.executable, __file__, "--worker", case.key, "--devices", device]
    proc = subprocess.run([*cmd, "--repeats", str(repeats)], capture_output=True, text=True)
    if proc.returncode == 0:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        return Row(case, device, data["ours"], data["peers"], data["note"])
    last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
    return Row(case, device, None, {}, f"the process died (exit {proc.returncode}): {last}")


def environment() -> str:
    import numpy as np

    parts = [f"{os.cpu_count()} cores ({platform.processor() or platform.machine()})"]
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        parts.append(f"NumPy {np.__version__} ({blas.get('name')} {blas.get('version', '')})")
    except Exception:
        parts.append(f"NumPy {np.__version__}")
    try:
        import plugrad

        parts.append(f"plugrad {plugrad.get_num_threads()} threads")
    except Exception:
        pass
    try:
        import torch

        parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    except Exception:
        parts.append("torch not installed")
    return ", ".join(parts)


def git_state() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"commit {commit}" + (" plus uncommitted changes" if dirty else "")


def provenance(command: str) -> str:
    """Who made the table, when, from what code and on what machine."""
    today = datetime.date.today().isoformat()
    return f"Made by `{command}` on {today}, {git_state()}; {environment()}."


def render(rows: list[Row], repeats: int, provenance_line: str) -> str:
    peers = [p for p in PEER_TITLES if any(p in r.case.peers for r in rows)]
    head = ["workload", "device", "plugrad"]
    head += [PEER_TITLES[p] for p in peers]
    head += [f"plugrad / {PEER_TITLES[p]}" for p in peers]
    head += ["target"]
    lines = [
        provenance_line,
        "",
        f"Times are medians of {repeats} interleaved samples per call; each row is measured in "
        "one process. **Ratios are plugrad time / peer time: below 1.00 plugrad is faster, "
        "above 1.00 it is slower.** Targets are issues 4's and 13's, set for the c_cpu backend.",
        "",
        "| " + " | ".join(head) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in range(1 + 2 * len(peers))) + " | --- |",
    ]
    notes = []
    for row in rows:
        cells = [row.case.label, row.device, format_time(row.ours)]
        cells += [format_time(row.peers.get(p)) if p in row.case.peers else "" for p in peers]
        cells += [format_ratio(row.ratio(p)) if p in row.case.peers else "" for p in peers]
        cells.append(target_cell(row))
        lines.append("| " + " | ".join(cells) + " |")
        if row.note:
            notes.append(f"{row.case.key} on {row.device}: {row.note}")
    if notes:
        lines += ["", "Not measured (n/a):", ""] + [f"- {n}" for n in dict.fromkeys(notes)]
    return "\n".join(lines) + "\n"


def update_between_markers(path: Path, table: str) -> None:
    text = path.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"compare: {path} has no {START} ... {END} section to update")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    path.write_text(f"{before}{START}\n{table}{END}{after}")


def command_line(argv: list[str]) -> str:
    """How this report was asked for, as the reader would type it."""
    extra = " ".join(argv)
    if os.environ.get("MAKELEVEL"):
        return "make compare" + (f" COMPARE_ARGS='{extra}'" if extra else "")
    return "python benchmarks/tools/compare.py" + (f" {extra}" if extra else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="samples per implementation")
    parser.add_argument("--devices", help="comma-separated plugrad devices (default: all)")
    known = ", ".join(common.CASE_BY_KEY)
    parser.add_argument("--cases", help=f"comma-separated case keys (default: all): {known}")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "compare.md")
    parser.add_argument("--update", type=Path, help="also rewrite the table in this markdown file")
    parser.add_argument(
        "--worker", help=argparse.SUPPRESS
    )  # one row, as JSON: see measure_isolated
    args = parser.parse_args(argv)
    devices = args.devices.split(",") if args.devices else common.devices()
    if args.worker:
        row = measure_row(common.CASE_BY_KEY[args.worker], devices[0], args.repeats)
        print(json.dumps({"ours": row.ours, "peers": row.peers, "note": row.note}))
        return 0
    keys = args.cases.split(",") if args.cases else list(common.CASE_BY_KEY)
    unknown = [k for k in keys if k not in common.CASE_BY_KEY]
    if unknown:
        parser.error(f"unknown cases {unknown}; known: {known}")
    rows: list[Row] = []
    for key in keys:
        case = common.CASE_BY_KEY[key]
        for device in devices:
            print(f"compare: {case.label} on {device} ...", file=sys.stderr, flush=True)
            rows.append(measure_isolated(case, device, args.repeats))
    command = command_line(sys.argv[1:] if argv is None else argv)
    table = render(rows, args.repeats, provenance(command))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)
    if args.update:
        update_between_markers(args.update, table)
    print(table)
    print(f"compare: written to {os.path.relpath(args.out, ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
