"""Make asv's published dashboard work with no internet access.

asv's index.html loads jQuery, flot, bootstrap and a few plugins from CDNs. This fetches the same
libraries from the npm registry (`npm pack`, cached in .asv/vendor-cache/ so later runs need no
network), copies the files the page uses to <html_dir>/vendor/<package>/<path in the package>
(bootstrap's css finds its fonts there by its own relative path), and rewrites the page's
<script>/<link> tags to those copies, dropping the CDN integrity attributes.

    python benchmarks/tools/offline_dashboard.py .asv/html
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = ROOT / ".asv" / "vendor-cache"


@dataclass(frozen=True)
class Asset:
    package: str  # npm name
    version: str
    path: str  # file inside the package
    extra: tuple[str, ...] = ()  # more files or folders the asset needs, inside the package

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"


_BOOTSTRAP_FONTS = ("dist/fonts",)

# The CDN URLs asv 0.6's index.html uses, mapped to npm packages of the same versions, with two
# stand-ins: flot's npm package ships no minified files (the plain ones are used), and
# stupidtable 1.0.1 is not on npm: stupid-table-plugin 1.1.3 has the same $.fn.stupidtable API.
KNOWN: dict[str, Asset] = {
    "https://code.jquery.com/jquery-3.3.1.min.js": Asset("jquery", "3.3.1", "dist/jquery.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.min.js": Asset(
        "flot", "0.8.3", "jquery.flot.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.time.min.js": Asset(
        "flot", "0.8.3", "jquery.flot.time.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.selection.min.js": Asset(
        "flot", "0.8.3", "jquery.flot.selection.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.categories.min.js": Asset(
        "flot", "0.8.3", "jquery.flot.categories.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js": Asset(
        "stupid-table-plugin", "1.1.3", "stupidtable.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js": Asset(
        "blueimp-md5", "2.19.0", "js/md5.min.js"
    ),
}

_JSDELIVR = re.compile(r"^https://cdn\.jsdelivr\.net/npm/((?:@[^/]+/)?[^@/]+)@([^/]+)/(.+)$")
_TAG = re.compile(r"<(script|link)\b[^>]*>", re.IGNORECASE)
_URL_ATTR = re.compile(r'\b(src|href)="(https?://[^"]+)"')
_DROP_ATTRS = re.compile(r'\s+(integrity|crossorigin|referrerpolicy)="[^"]*"')
_INTEGRITY = re.compile(r'integrity="sha(256|384|512)-([^"]+)"')


def asset_for(url: str) -> Asset:
    """The npm package file standing for a CDN URL; jsDelivr's /npm/ URLs map one to one."""
    if url in KNOWN:
        return KNOWN[url]
    match = _JSDELIVR.match(url)
    if match:
        name, version, path = match.groups()
        extra = _BOOTSTRAP_FONTS if name == "bootstrap" and path.endswith(".css") else ()
        return Asset(name, version, path, extra)
    raise SystemExit(
        f"offline_dashboard: asv's page loads {url}, which has no npm package here yet: "
        "add it to KNOWN in benchmarks/tools/offline_dashboard.py"
    )


def local_path(asset: Asset, path: str | None = None) -> str:
    """Where a file of the asset lives, relative to the html folder."""
    return f"vendor/{asset.package}/{path or asset.path}"


def rewrite(html: str) -> tuple[str, list[tuple[str, Asset, str | None]]]:
    """Point every remote <script src>/<link href> at its local copy.

    Returns the new page and (url, asset, integrity attribute or None) for each rewritten tag.
    """
    found: list[tuple[str, Asset, str | None]] = []

    def fix(tag_match: re.Match) -> str:
        tag = tag_match.group(0)
        url_match = _URL_ATTR.search(tag)
        if not url_match:
            return tag
        url = url_match.group(2)
        asset = asset_for(url)
        integrity = _INTEGRITY.search(tag)
        found.append((url, asset, integrity.group(0) if integrity else None))
        tag = tag.replace(url_match.group(0), f'{url_match.group(1)}="{local_path(asset)}"')
        return _DROP_ATTRS.sub("", tag)

    return _TAG.sub(fix, html), found


def remote_references(html: str) -> list[str]:
    """URLs that <script>/<link> tags still load from the network (should be none)."""
    return [m.group(2) for tag in _TAG.finditer(html) for m in _URL_ATTR.finditer(tag.group(0))]


def fetch(spec: str, cache: Path) -> Path:
    """The npm tarball of `spec`, from the cache or else `npm pack`."""
    cache.mkdir(parents=True, exist_ok=True)
    name, _, version = spec.rpartition("@")
    tarball = cache / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
    if tarball.exists():
        return tarball
    if shutil.which("npm") is None:
        raise SystemExit(f"offline_dashboard: npm is needed to fetch {spec} (apt-get install npm)")
    subprocess.run(
        ["npm", "pack", "--silent", "--pack-destination", str(cache), spec],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if not tarball.exists():
        raise SystemExit(f"offline_dashboard: npm pack {spec} did not produce {tarball.name}")
    return tarball


def extract(tarball: Path, wanted: list[str], dest: Path) -> None:
    """Copy `wanted` files, or whole folders, out of an npm tarball's package/ into dest."""
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        for item in wanted:
            prefix = f"package/{item}"
            chosen = [m for m in members if m.name == prefix or m.name.startswith(prefix + "/")]
            if not chosen:
                raise SystemExit(f"offline_dashboard: {item} is not in {tarball.name}")
            for member in chosen:
                target = dest / member.name.removeprefix("package/")
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                target.write_bytes(source.read() if source else b"")


def integrity_matches(path: Path, integrity: str) -> bool:
    match = _INTEGRITY.match(integrity)
    if not match:
        return False
    digest = hashlib.new(f"sha{match.group(1)}", path.read_bytes()).digest()
    return base64.b64encode(digest).decode() == match.group(2)


def make_offline(html_dir: Path, cache: Path = DEFAULT_CACHE) -> list[str]:
    """Vendor the assets of every page in html_dir and rewrite the pages; returns a report."""
    report = []
    for page in sorted(html_dir.glob("*.html")):
        html, found = rewrite(page.read_text(encoding="utf-8"))
        by_spec: dict[str, list[str]] = {}
        for _url, asset, _ in found:
            by_spec.setdefault(asset.spec, []).extend([asset.path, *asset.extra])
        for spec, files in by_spec.items():
            package = spec.rpartition("@")[0]
            extract(fetch(spec, cache), sorted(set(files)), html_dir / "vendor" / package)
        for url, asset, integrity in found:
            note = ""
            if integrity:
                same = integrity_matches(html_dir / local_path(asset), integrity)
                note = " (same bytes as the CDN's)" if same else " (not the CDN's bytes: see KNOWN)"
            report.append(f"{page.name}: {url} -> {local_path(asset)}{note}")
        left = remote_references(html)
        if left:
            raise SystemExit(f"offline_dashboard: {page.name} still loads {', '.join(left)}")
        page.write_text(html, encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", type=Path, help="asv's html_dir (after `asv publish`)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="npm tarball cache")
    args = parser.parse_args(argv)
    if not (args.html_dir / "index.html").exists():
        parser.error(f"{args.html_dir}/index.html not found: run `asv publish` first")
    for line in make_offline(args.html_dir, args.cache):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
