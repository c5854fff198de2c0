"""`make bench`: a quick asv run of the whole suite against the working tree, as one table.

Runs `asv run --python=same --quick` (this interpreter, so the editable installs of the working
tree, not a commit) with its results kept apart from the dashboard's, in .asv/bench-results/,
then prints one row per benchmark and parameter set, one column per plugrad device.
Extra arguments go to `asv run`, e.g. `python benchmarks/tools/bench.py -b Matmul`.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import common  # noqa: E402

WORK = ROOT / ".asv"
RESULTS = WORK / "bench-results"
LOG = WORK / "bench.log"


def write_config() -> Path:
    """asv.conf.json with absolute paths (asv resolves them against the config's folder) and
    the results directed to .asv/bench-results/."""
    from asv import util

    conf = util.load_json(str(ROOT / "asv.conf.json"), None, js_comments=True)
    for key in ("repo", "benchmark_dir", "env_dir", "html_dir"):
        conf[key] = str(ROOT / conf[key])
    conf["results_dir"] = str(RESULTS)
    path = WORK / "bench.conf.json"
    path.write_text(json.dumps(conf, indent=1))
    return path


def format_value(value, unit: str) -> str:
    if value is None:
        return "failed"
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if unit == "seconds":
        return common.format_seconds(value)
    if unit == "bytes":
        return f"{value / 2**20:.0f} MiB"
    return f"{value:.3g}"


def table(results_file: Path, benchmarks: dict) -> list[str]:
    """Markdown rows: benchmark, its other parameters, then one column per device."""
    data = json.loads(results_file.read_text())
    columns = data["result_columns"]
    devices: list[str] = []
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for name, entry in sorted(data["results"].items()):
        values = entry[columns.index("result")]
        params = entry[columns.index("params")]
        meta = benchmarks.get(name, {})
        unit = meta.get("unit", "")
        names = meta.get("param_names", [f"p{i}" for i in range(len(params))])
        combos = _product(params)
        for value, combo in zip(values, combos):
            labels = dict(zip(names, (c.strip("'") for c in combo)))
            device = labels.pop("device", "-")
            if device not in devices:
                devices.append(device)
            other = ", ".join(f"{k}={v}" for k, v in labels.items())
            rows.setdefault((name.removeprefix("bench_"), other), {})[device] = format_value(
                value, unit
            )
    lines = [
        "| benchmark | parameters | " + " | ".join(devices) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in devices) + " |",
    ]
    for (name, other), cells in rows.items():
        lines.append(
            f"| {name} | {other} | " + " | ".join(cells.get(d, "") for d in devices) + " |"
        )
    return lines


def _product(params: list[list[str]]) -> list[tuple[str, ...]]:
    combos: list[tuple[str, ...]] = [()]
    for values in params:
        combos = [c + (v,) for c in combos for v in values]
    return combos


def main(argv: list[str]) -> int:
    WORK.mkdir(exist_ok=True)
    asv = [sys.executable, "-m", "asv"]
    if not (Path.home() / ".asv-machine.json").exists():
        subprocess.run([*asv, "machine", "--yes"], cwd=ROOT, check=True, capture_output=True)
    config = write_config()
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    for old in RESULTS.glob("*/*.json"):
        if old.name != "machine.json":
            old.unlink()
    cmd = [*asv, "--config", str(config), "run", "--python=same", "--quick", "--show-stderr"]
    cmd += ["--set-commit-hash", commit, *argv]
    print("+", " ".join(cmd[2:]), f"(log: {os.path.relpath(LOG, ROOT)})", flush=True)
    with LOG.open("w") as log:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    found = sorted(p for p in RESULTS.glob("*/*.json") if p.name != "machine.json")
    log = os.path.relpath(LOG, ROOT)
    if not found:
        print(LOG.read_text()[-6000:])
        print(f"asv run failed (exit {proc.returncode}); full log in {log}", file=sys.stderr)
        return proc.returncode or 1
    benchmarks = json.loads((RESULTS / "benchmarks.json").read_text())
    print("\n".join(table(found[-1], benchmarks)))
    print(
        "\ntimes per call, asv --quick (one sample: indicative only); track_ rows are "
        "plugrad time / peer time (medians); n/a: skipped (plugrad API not there yet); "
        f"failed: its traceback is in {log}"
    )
    if proc.returncode != 0:
        print(f"asv run exited {proc.returncode}: some benchmarks failed", file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
