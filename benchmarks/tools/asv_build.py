"""asv's build, install and uninstall commands for plugrad's distributions.

plugrad is several distributions: the root (`plugrad`, core/ and nn/) and every `backends/*/`
that has a pyproject.toml or setup.py. asv.conf.json runs this file from the working tree
(`{conf_dir}`), with the environment's python, so it also builds old commits:

    asv_build.py build BUILD_DIR CACHE_DIR    wheels into CACHE_DIR/dists/
    asv_build.py install BUILD_DIR CACHE_DIR  pip install every wheel there
    asv_build.py uninstall                    pip uninstall every plugrad* distribution

The wheels go into a subfolder because asv refuses a build cache with more than one wheel at its
top. A backend that fails to build (e.g. no C compiler for c_cpu) is reported and left out, so
the other devices are still benchmarked; the root failing to build is an error.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
from importlib import metadata

WHEEL_SUBDIR = "dists"


def distributions(build_dir: str) -> list[str]:
    """The root, then each backends/*/ that is a Python project, sorted by name."""
    found = [build_dir]
    for path in sorted(glob.glob(os.path.join(build_dir, "backends", "*", ""))):
        if any(os.path.exists(os.path.join(path, f)) for f in ("pyproject.toml", "setup.py")):
            found.append(path.rstrip(os.sep))
    return found


def _pip(*args: str) -> int:
    cmd = [sys.executable, "-m", "pip", *args]
    print("+", " ".join(cmd), flush=True)
    return subprocess.call(cmd)


def build(build_dir: str, cache_dir: str) -> int:
    out = os.path.join(cache_dir, WHEEL_SUBDIR)
    os.makedirs(out, exist_ok=True)
    for path in distributions(build_dir):
        if _pip("wheel", "--no-deps", "--quiet", "-w", out, path) == 0:
            continue
        if path == build_dir:
            print(f"asv_build: building {path} failed", file=sys.stderr)
            return 1
        print(f"asv_build: warning: {path} failed to build; its device is left out", flush=True)
    return 0


def wheels(cache_dir: str) -> list[str]:
    return sorted(glob.glob(os.path.join(cache_dir, WHEEL_SUBDIR, "*.whl")))


def install(cache_dir: str) -> int:
    found = wheels(cache_dir)
    if not found:
        print(f"asv_build: no wheels in {cache_dir}/{WHEEL_SUBDIR}", file=sys.stderr)
        return 1
    # --force-reinstall --no-deps: versions do not change between commits, the code does.
    return _pip("install", "--quiet", *found) or _pip(
        "install", "--quiet", "--force-reinstall", "--no-deps", *found
    )


def installed_plugrad() -> list[str]:
    names = {dist.metadata["Name"] for dist in metadata.distributions()}
    return sorted(n for n in names if n and n.lower().replace("_", "-").startswith("plugrad"))


def uninstall() -> int:
    names = installed_plugrad()
    return _pip("uninstall", "--yes", "--quiet", *names) if names else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["build", "install", "uninstall"])
    parser.add_argument("build_dir", nargs="?")
    parser.add_argument("cache_dir", nargs="?")
    args = parser.parse_args(argv)
    if args.action == "uninstall":
        return uninstall()
    if not (args.build_dir and args.cache_dir):
        parser.error(f"{args.action} needs BUILD_DIR and CACHE_DIR")
    if args.action == "build":
        return build(os.path.abspath(args.build_dir), os.path.abspath(args.cache_dir))
    return install(os.path.abspath(args.cache_dir))


if __name__ == "__main__":
    sys.exit(main())
