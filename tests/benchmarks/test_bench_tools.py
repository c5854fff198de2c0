"""The benchmark tooling (benchmarks/tools): offline dashboard assets, the Chromium check's
DOM and PNG reading, the bench and compare tables. No network, no browser, no timings."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import struct
import sys
import tarfile
import zlib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "benchmarks" / "tools"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_tools_{name}", TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


offline = _load("offline_dashboard")
check = _load("check_dashboard")
compare = _load("compare")
bench = _load("bench")
asv_build = _load("asv_build")
common = compare.common

ASV_PAGE = """<html><head>
<script src="https://code.jquery.com/jquery-3.3.1.min.js" integrity="sha256-AAAA" crossorigin="anonymous" onerror="js_load_failure()"></script>
<script src="https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.min.js" integrity="sha512-BBBB" crossorigin="anonymous" referrerpolicy="no-referrer" onerror="js_load_failure()"></script>
<script language="javascript" type="text/javascript" src="jquery.flot.axislabels.js"></script>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css" integrity="sha256-CCCC" crossorigin="anonymous">
</head><body><a href="https://github.com/airspeed-velocity/asv/">asv</a></body></html>
"""  # noqa: E501


def test_rewrite_points_every_cdn_tag_at_a_local_copy():
    html, found = offline.rewrite(ASV_PAGE)
    assert offline.remote_references(html) == []
    assert 'src="vendor/jquery/dist/jquery.min.js"' in html
    assert 'src="vendor/flot/jquery.flot.js"' in html
    assert 'href="vendor/bootstrap/dist/css/bootstrap.min.css"' in html
    assert "integrity" not in html and "crossorigin" not in html and "referrerpolicy" not in html
    assert 'src="jquery.flot.axislabels.js"' in html  # local script untouched
    assert 'href="https://github.com/airspeed-velocity/asv/"' in html  # a link, not a load
    assert [asset.spec for _, asset, _ in found] == [
        "jquery@3.3.1",
        "flot@0.8.3",
        "bootstrap@3.1.1",
    ]
    bootstrap = found[-1][1]
    assert bootstrap.extra == ("dist/fonts",)  # the css needs its fonts beside it
    assert offline.rewrite(html)[1] == []  # idempotent


def test_the_installed_asv_page_is_fully_covered():
    asv = pytest.importorskip("asv")
    page = Path(asv.__file__).parent / "www" / "index.html"
    html, found = offline.rewrite(page.read_text(encoding="utf-8"))
    assert found and offline.remote_references(html) == []


def test_unknown_cdn_url_is_an_error_naming_it():
    with pytest.raises(SystemExit, match="cdn.example.org"):
        offline.asset_for("https://cdn.example.org/lib.js")
    asset = offline.asset_for("https://cdn.jsdelivr.net/npm/@scope/pkg@1.2.3/dist/a.js")
    assert (asset.package, asset.version, asset.path) == ("@scope/pkg", "1.2.3", "dist/a.js")


def _tarball(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_make_offline_uses_cached_tarballs_and_copies_files(tmp_path):
    cache, html_dir = tmp_path / "cache", tmp_path / "html"
    cache.mkdir()
    html_dir.mkdir()
    jquery = b"/* jquery */"
    _tarball(cache / "jquery-3.3.1.tgz", {"dist/jquery.min.js": jquery, "README.md": b"x"})
    _tarball(cache / "flot-0.8.3.tgz", {"jquery.flot.js": b"/* flot */"})
    _tarball(
        cache / "bootstrap-3.1.1.tgz",
        {"dist/css/bootstrap.min.css": b"css", "dist/fonts/g.woff": b"font"},
    )
    digest = base64.b64encode(hashlib.sha256(jquery).digest()).decode()
    (html_dir / "index.html").write_text(ASV_PAGE.replace("sha256-AAAA", f"sha256-{digest}"))
    report = offline.make_offline(html_dir, cache)
    assert (html_dir / "vendor/jquery/dist/jquery.min.js").read_bytes() == jquery
    assert (html_dir / "vendor/bootstrap/dist/fonts/g.woff").read_bytes() == b"font"
    assert not (html_dir / "vendor/jquery/README.md").exists()
    assert "same bytes as the CDN's" in report[0]
    assert offline.remote_references((html_dir / "index.html").read_text()) == []


def test_extract_names_a_missing_file(tmp_path):
    _tarball(tmp_path / "p.tgz", {"a.js": b""})
    with pytest.raises(SystemExit, match="b.js"):
        offline.extract(tmp_path / "p.tgz", ["b.js"], tmp_path / "out")


GOOD_DOM = """<html><head><script>function js_load_failure() {}</script></head><body>
<div id="main-graph"><canvas class="flot-base"></canvas><div class="flot-text">
<div class="flot-tick-label tickLabel" style="x">150</div></div></div><div id="overview"></div>
</body></html>"""


def test_check_dom_accepts_a_drawn_graph_and_names_what_is_missing():
    assert check.check_dom(GOOD_DOM) == []
    blank = GOOD_DOM.replace('<canvas class="flot-base"></canvas>', "").replace(">150<", "><")
    problems = check.check_dom(blank)
    assert any("flot canvas" in p for p in problems)
    assert any("tick labels" in p for p in problems)
    assert check.check_dom("<html>asv could not load its scripts</html>")


def _png(image: np.ndarray, filters: list[int]) -> bytes:
    """Encode an RGBA image with the given filter type per row (the PNG spec's filters)."""
    h, w, ch = image.shape
    raw = bytearray()
    prev = [0] * (w * ch)
    for y in range(h):
        line = image[y].reshape(-1).tolist()
        kind = filters[y % len(filters)]
        out = []
        for x, value in enumerate(line):
            a = line[x - ch] if x >= ch else 0
            b = prev[x]
            c = prev[x - ch] if x >= ch else 0
            if kind == 0:
                pred = 0
            elif kind == 1:
                pred = a
            elif kind == 2:
                pred = b
            elif kind == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            out.append((value - pred) & 0xFF)
        raw += bytes([kind, *out])
        prev = line

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(raw)))
        + chunk(b"IEND", b"")
    )


def test_read_png_decodes_every_filter_type(tmp_path):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (10, 7, 4), dtype=np.uint8)
    path = tmp_path / "x.png"
    path.write_bytes(_png(image, [0, 1, 2, 3, 4]))
    np.testing.assert_array_equal(check.read_png(path), image)


def test_coloured_pixels_counts_series_not_grey():
    image = np.full((900, 1400, 4), 255, np.uint8)
    image[600, 700:750, :3] = (60, 120, 200)  # a blue series line in the graph area
    image[650, 700:750, :3] = (90, 90, 90)  # grey: a grid line or text
    image[10, 10:60, :3] = (60, 120, 200)  # coloured, but in the navigation bar
    image[130, 300:310, :3] = (200, 60, 60)  # a legend swatch
    assert check.coloured_pixels(image) == 50


def _case(key="matmul_1024"):
    return common.CASE_BY_KEY[key]


def test_compare_table_gives_ratios_as_plugrad_over_peer_and_checks_targets():
    rows = [
        compare.Row(_case(), "c_cpu", 0.010, {"numpy": 0.020, "torch": 0.008}),
        compare.Row(_case(), "numpy_ref", 0.030, {"numpy": 0.020, "torch": 0.008}),
        compare.Row(_case("mlp_epoch"), "c_cpu", None, {"torch": 0.05}, "plugrad.nn is missing"),
    ]
    table = compare.render(rows, 7, "Made by `make compare`.")
    assert "plugrad time / peer time" in table
    header = next(line for line in table.splitlines() if line.startswith("| workload"))
    assert "plugrad / NumPy" in header and "plugrad / torch" in header
    body = [line for line in table.splitlines() if "| c_cpu |" in line or "| numpy_ref |" in line]
    c_cpu, numpy_ref, mlp = body
    assert "| 10 ms | 20 ms | 8 ms | 0.50 | 1.25 |" in c_cpu and "**met**" in c_cpu
    assert "| 1.50 |" in numpy_ref and "**not met**" in numpy_ref
    assert "n/a" in mlp and "- mlp_epoch on c_cpu: plugrad.nn is missing" in table
    assert "Made by `make compare`" in table and "medians of 7" in table


def test_update_between_markers_replaces_only_the_table(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# P\n\nbefore\n{compare.START}\nold\n{compare.END}\nafter\n")
    compare.update_between_markers(readme, "| new |\n")
    assert readme.read_text() == f"# P\n\nbefore\n{compare.START}\n| new |\n{compare.END}\nafter\n"
    unmarked = tmp_path / "x.md"
    unmarked.write_text("no markers\n")
    with pytest.raises(SystemExit, match="compare:start"):
        compare.update_between_markers(unmarked, "")


def test_bench_table_puts_devices_in_columns(tmp_path):
    results = {
        "result_columns": ["result", "params", "version"],
        "results": {
            "bench_arrays.Matmul.time_matmul": [
                [0.001, 0.5, float("nan"), None],
                [["'numpy_ref'", "'c_cpu'"], ["256", "2048"]],
                "v",
            ],
            "bench_training.MLPStep.peakmem_step": [[2**30], [["'numpy_ref'"]], "v"],
        },
    }
    path = tmp_path / "r.json"
    path.write_text(json.dumps(results))
    meta = {
        "bench_arrays.Matmul.time_matmul": {"unit": "seconds", "param_names": ["device", "n"]},
        "bench_training.MLPStep.peakmem_step": {"unit": "bytes", "param_names": ["device"]},
    }
    lines = bench.table(path, meta)
    assert lines[0] == "| benchmark | parameters | numpy_ref | c_cpu |"
    assert "| arrays.Matmul.time_matmul | n=256 | 1 ms | n/a |" in lines
    assert "| arrays.Matmul.time_matmul | n=2048 | 500 ms | failed |" in lines
    assert "| training.MLPStep.peakmem_step |  | 1024 MiB |  |" in lines


def test_asv_build_finds_the_root_and_each_backend(tmp_path):
    for sub in ("backends/a", "backends/b", "backends/notes"):
        (tmp_path / sub).mkdir(parents=True)
    (tmp_path / "backends/a/pyproject.toml").write_text("")
    (tmp_path / "backends/b/setup.py").write_text("")
    found = asv_build.distributions(str(tmp_path))
    assert found == [str(tmp_path), str(tmp_path / "backends/a"), str(tmp_path / "backends/b")]


def test_interleaved_timing_gives_positive_samples_per_runner():
    calls = {"a": 0, "b": 0}

    def run(name):
        def fn():
            calls[name] += 1

        return fn

    samples = common.interleaved({"a": run("a"), "b": run("b")}, repeats=3)
    assert {k: len(v) for k, v in samples.items()} == {"a": 3, "b": 3}
    assert all(s > 0 for v in samples.values() for s in v)
    assert calls["a"] > 3  # microsecond work is looped within a sample
    assert common.median_ratio(run("a"), run("b"), repeats=1) > 0


def test_missing_plugrad_api_is_a_skip_not_a_crash():
    with pytest.raises(NotImplementedError, match="no_such_thing"):
        common.require("no_such_thing")
    with pytest.raises(NotImplementedError):
        common.conv2d("numpy")  # conv2d has no NumPy peer
    assert common.devices()  # never empty: asv needs a parameter value


def test_measure_row_times_plugrad_with_its_peers_and_says_what_could_not_run():
    def build(lib, device=None):
        if lib == "plugrad" and device == "missing":
            raise NotImplementedError("plugrad.thing is not available yet")
        if lib == "torch":
            raise NotImplementedError("torch is not installed")
        if lib == "plugrad" and device == "broken":
            return lambda: 1 / 0
        return lambda: None

    case = common.Case("fake", "fake", build, ("numpy", "torch"))
    row = compare.measure_row(case, "dev", repeats=2)
    assert row.ours > 0 and set(row.peers) == {"numpy"} and row.note == ""
    missing = compare.measure_row(case, "missing", repeats=1)
    assert missing.ours is None and "plugrad.thing" in missing.note and "numpy" in missing.peers
    broken = compare.measure_row(case, "broken", repeats=1)
    assert broken.ours is None and "ZeroDivisionError" in broken.note
