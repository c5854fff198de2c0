"""Check that the published asv dashboard draws graphs with no internet access.

Serves the html folder on 127.0.0.1, opens a benchmark's graph page in headless Chromium with
every other host unresolvable, and checks:
- every file the page asked the local server for was there (no 404), the vendored libraries
  among them;
- the page ran (no redirect to asv's error page) and flot drew the main graph: a flot canvas
  and axis tick labels in #main-graph;
- the screenshot has the coloured pixels of plotted series in the graph area.

    python benchmarks/tools/check_dashboard.py .asv/html [--benchmark NAME] [--screenshot PNG]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    # Offline: no host but the local server resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--window-size=1400,900",
    "--virtual-time-budget=20000",
]


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("check_dashboard: no chromium found (apt-get install -y chromium)")


class _Server:
    """A quiet static server on 127.0.0.1 that records (path, status) of every request."""

    def __init__(self, directory: Path) -> None:
        self.requests: list[tuple[str, int]] = []
        requests = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_request(self, code="-", size="-"):
                requests.append((self.path, int(code) if str(code).isdigit() else 0))

            def log_message(self, *args):
                pass

        handler = functools.partial(Handler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def pick_benchmark(html_dir: Path) -> str:
    """A benchmark whose published graph has at least one measured point (time_ preferred)."""
    with_data = set()
    for graph in (html_dir / "graphs").rglob("*.json"):
        try:
            points = json.loads(graph.read_text())
        except ValueError:
            continue
        # A graph is a list of [revision, value or values]; summary.json is an index.
        if graph.stem != "summary" and any(_has_value(point[1:]) for point in points):
            with_data.add(graph.stem)
    if not with_data:
        raise SystemExit(f"check_dashboard: no benchmark in {html_dir} has results to draw")
    return sorted(with_data, key=lambda name: (".time_" not in name, name))[0]


def _has_value(value) -> bool:
    if isinstance(value, list):
        return any(_has_value(v) for v in value)
    return isinstance(value, int | float)


def run_chromium(chromium: str, args: list[str], url: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url],
            capture_output=True,
            text=True,
            timeout=180,
        )
    if proc.returncode != 0:
        raise SystemExit(f"check_dashboard: chromium failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def check_dom(dom: str) -> list[str]:
    """What is wrong with the graph page's DOM after its scripts ran (empty: fine)."""
    problems = []
    if "js_load_failure" not in dom or 'id="main-graph"' not in dom:
        problems.append("the page is not asv's dashboard (redirected to error.html?)")
        return problems
    start = dom.index('id="main-graph"')
    end = dom.find('id="overview"', start)
    graph = dom[start : end if end != -1 else len(dom)]
    if 'class="flot-base"' not in graph:
        problems.append("no flot canvas in #main-graph: the graph was not drawn")
    ticks = re.findall(r'class="flot-tick-label[^"]*"[^>]*>([^<]+)<', graph)
    if not any(re.search(r"\d", t) for t in ticks):
        problems.append("no numeric axis tick labels in #main-graph")
    if "No data for this combination" in graph:
        problems.append("the graph says there is no data")
    return problems


def read_png(path: Path) -> np.ndarray:
    """Decode an 8-bit RGB/RGBA, non-interlaced PNG (what Chromium writes) to (h, w, channels)."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    channels = {2: 3, 6: 4}.get(color)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {color})")
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8)
    stride = width * channels
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        if kind == 1:  # Sub: running sum along each channel
            line = np.cumsum(line.reshape(width, channels), axis=0).reshape(-1)
        elif kind == 2:  # Up
            line = line + prev
        elif kind in (3, 4):  # Average, Paeth: depend on the pixel just decoded
            cur = [0] * stride
            up = prev.tolist()
            filt = line.tolist()
            for x in range(stride):
                a = cur[x - channels] if x >= channels else 0
                b = up[x]
                if kind == 3:
                    pred = (a + b) // 2
                else:
                    c = up[x - channels] if x >= channels else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (filt[x] + pred) & 0xFF
            line = np.array(cur, np.int32)
        line &= 0xFF
        out[y] = line
        prev = line
    return out.reshape(height, width, channels)


def coloured_pixels(image: np.ndarray, left: int = 560, top: int = 120) -> int:
    """Clearly coloured pixels (plotted series, not text, grid lines or background) in the
    graph area right of `left`: past asv's 200 px navigation and flot's legend, whose coloured
    swatches sit in the plot's top left corner (the window is 1400 px wide)."""
    area = image[top:, left:, :3].astype(np.int32)
    spread = area.max(axis=2) - area.min(axis=2)
    return int((spread > 60).sum())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", type=Path)
    parser.add_argument(
        "--benchmark", help="benchmark whose graph to open (default: one with data)"
    )
    parser.add_argument(
        "--screenshot", type=Path, default=ROOT / ".asv" / "dashboard.png", help="PNG to write"
    )
    parser.add_argument("--min-pixels", type=int, default=40, help="coloured pixels required")
    args = parser.parse_args(argv)
    html_dir = args.html_dir.resolve()
    if not (html_dir / "index.html").exists():
        parser.error(f"{html_dir}/index.html not found")
    chromium = find_chromium()
    benchmark = args.benchmark or pick_benchmark(html_dir)
    problems = []
    with _Server(html_dir) as server:
        url = f"{server.url}index.html#{benchmark}"
        print(f"check_dashboard: opening {url} in {chromium} (offline)")
        problems += check_dom(run_chromium(chromium, ["--dump-dom"], url))
        args.screenshot.parent.mkdir(parents=True, exist_ok=True)
        run_chromium(chromium, [f"--screenshot={args.screenshot}"], url)
        missing = sorted({p for p, code in server.requests if code >= 400})
        vendored = sorted({p for p, code in server.requests if p.startswith("/vendor/")})
    if missing:
        problems.append(f"files the page asked for are missing: {', '.join(missing)}")
    if not vendored:
        problems.append("the page loaded no vendored library: was offline_dashboard.py run?")
    pixels = coloured_pixels(read_png(args.screenshot))
    print(f"check_dashboard: {len(vendored)} vendored files served; {pixels} coloured pixels")
    if pixels < args.min_pixels:
        problems.append(f"only {pixels} coloured pixels in the graph area: nothing plotted?")
    if problems:
        print("check_dashboard: FAILED\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"check_dashboard: OK, {benchmark} graph drawn offline; screenshot {args.screenshot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
