"""The per-thread autocast state: the stack of entered regions and the suppression count.

Kept free of plugrad imports so the autograd engine and the op wrappers can read it cheaply.
`active` counts enabled regions in every thread: while it is 0 (the usual case) a wrapped op
costs one global read before it runs as if unwrapped.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Region:
    """One entered `autocast`: which devices it covers, its dtype and whether it is on."""

    device_type: str  # "cpu" (every host backend), or a device type such as "cuda", "numpy_ref"
    dtype: Any  # a plugrad DType, float16 or bfloat16
    enabled: bool
    cache_enabled: bool


class _Local(threading.local):
    def __init__(self) -> None:
        self.regions: list[Region] = []
        self.suppressed = 0  # > 0 inside an autocast op's body and during backward
        self.cache: dict[tuple, tuple[Any, Any]] = {}  # cast weights of this region nesting


local = _Local()
active = 0  # enabled regions entered and not yet left, over all threads
_active_lock = threading.Lock()


def push(region: Region) -> None:
    global active
    local.regions.append(region)
    if region.enabled:
        with _active_lock:
            active += 1


def pop() -> Region:
    """Leave the innermost region; leaving the outermost one drops the cast-weight cache."""
    global active
    region = local.regions.pop()
    if region.enabled:
        with _active_lock:
            active -= 1
    if not local.regions:
        local.cache.clear()
    return region


def region_for(device: Any) -> Region | None:
    """The innermost region that covers `device` (a plugrad Device), or None."""
    for region in reversed(local.regions):
        kind = region.device_type
        if kind == device.type or (kind == "cpu" and device.is_host):
            return region
    return None


@contextmanager
def suppressed() -> Iterator[None]:
    """No autocasting inside: an autocast op's own body (its inner ops run in the dtypes it
    chose, as torch excludes its autocast key there) and the backward pass (gradients keep
    the dtypes of the forward)."""
    local.suppressed += 1
    try:
        yield
    finally:
        local.suppressed -= 1


def snapshot() -> tuple[Region, ...]:
    """This thread's regions, for a later `restored` (checkpoint's recomputation)."""
    return tuple(local.regions)


@contextmanager
def restored(regions: tuple[Region, ...]) -> Iterator[None]:
    """Run with the regions of a snapshot and no suppression, then put this thread's back:
    a checkpoint recomputes its forward inside backward, under the forward's autocast."""
    global active
    saved = local.regions, local.suppressed, local.cache
    local.regions, local.suppressed, local.cache = list(regions), 0, {}
    enabled = sum(r.enabled for r in regions)
    with _active_lock:
        active += enabled
    try:
        yield
    finally:
        with _active_lock:
            active -= enabled
        local.regions, local.suppressed, local.cache = saved
