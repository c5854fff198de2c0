"""Which runtime the backend uses: `PLUGRAD_CUDA` (auto | gpu | emulate) and the driver probe.

The driver is probed once per process. After a failed probe nothing touches it again: without
libcuda every driver call fails fast, but initialising CUDA twice with no visible device can
hang, and cuda.core's module APIs hang without a driver, so they are never used here.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

MODES = ("auto", "gpu", "emulate")
_lock = threading.Lock()
_probe: Probe | None = None


@dataclass(frozen=True)
class Probe:
    """The outcome of probing the driver: device count and versions, or the reason it failed."""

    ok: bool
    devices: int = 0
    driver_version: int = 0
    reason: str = ""


def mode() -> str:
    value = os.environ.get("PLUGRAD_CUDA", "auto").strip().lower() or "auto"
    if value not in MODES:
        raise ValueError(
            f"PLUGRAD_CUDA={value!r} is not one of {', '.join(MODES)} (auto: the GPU when a "
            "driver and device are present; gpu: only the GPU; emulate: the CPU emulator)"
        )
    return value


def probe_driver() -> Probe:
    """Initialise the driver once and count devices; cached for the life of the process."""
    global _probe
    with _lock:
        if _probe is None:
            _probe = _probe_once()
        return _probe


def _probe_once() -> Probe:
    try:
        from cuda.bindings import driver
    except ImportError as error:
        return Probe(False, reason=(
            f"cuda-bindings is not installed ({error}); install plugrad-cuda[cu12] or "
            "plugrad-cuda[cu13]"
        ))  # fmt: skip
    try:
        (err,) = driver.cuInit(0)
        if err != driver.CUresult.CUDA_SUCCESS:
            return Probe(False, reason=f"cuInit failed: {err!r} (no usable NVIDIA GPU)")
        err, count = driver.cuDeviceGetCount()
        if err != driver.CUresult.CUDA_SUCCESS:
            return Probe(False, reason=f"cuDeviceGetCount failed: {err!r}")
        err, version = driver.cuDriverGetVersion()
        if err != driver.CUresult.CUDA_SUCCESS:
            return Probe(False, reason=f"cuDriverGetVersion failed: {err!r}")
    except Exception as error:  # DynamicLibNotFoundError and friends: no driver installed
        return Probe(False, reason=f"no CUDA driver: {type(error).__name__}: {error}")
    if count < 1:
        return Probe(False, reason="the CUDA driver reports no devices")
    return Probe(True, devices=int(count), driver_version=int(version))
