"""The on-disk cache of compiled kernels (CUBIN, PTX, emulator shared objects).

Entries are keyed by a hash of everything that determines the bytes (sources, options,
compiler version, architecture, driver version for PTX). A file holds a SHA-256 of its payload
and is written to a temporary name and renamed, so a crash or a concurrent writer never leaves
a torn entry, and a corrupted one is detected, removed and rebuilt. `PLUGRAD_CUDA_CACHE` moves
the cache (a directory) or disables it (`0`, `off`, `none`); the default is
`$XDG_CACHE_HOME/plugrad/cuda` (`~/.cache/plugrad/cuda`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

_MAGIC = b"plugrad-cuda-cache-1\n"
_DISABLED = {"0", "off", "none", "false", "no", ""}


def cache_dir() -> Path | None:
    """The cache directory, or None when caching is disabled."""
    value = os.environ.get("PLUGRAD_CUDA_CACHE")
    if value is not None:
        return None if value.strip().lower() in _DISABLED else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "plugrad" / "cuda"


def key_of(*parts: bytes | str) -> str:
    """A hex key over `parts` (each length-prefixed, so concatenations cannot collide)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def path_for(key: str, suffix: str) -> Path | None:
    directory = cache_dir()
    return None if directory is None else directory / f"{key}{suffix}"


def load(key: str, suffix: str) -> bytes | None:
    """The cached payload for `key`, or None (absent, disabled, or failed its checksum)."""
    path = path_for(key, suffix)
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(_MAGIC) + 64
    if data[: len(_MAGIC)] == _MAGIC and len(data) > head:
        payload = data[head + 1 :]
        if hashlib.sha256(payload).hexdigest().encode() == data[len(_MAGIC) : head]:
            return payload
    try:  # corrupted: remove it so it is rebuilt
        path.unlink()
    except OSError:
        pass
    return None


def store(key: str, suffix: str, payload: bytes) -> Path | None:
    """Write `payload` atomically; returns the entry's path (None when caching is disabled or
    the directory is not writable: the cache is an optimisation, never a requirement)."""
    path = path_for(key, suffix)
    if path is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:16]}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        return None
    return path
