"""Shared fixtures for the repository's tests."""

from __future__ import annotations

import os

# The CUDA backend runs its kernels on the CPU emulator unless a GPU run asks for the device
# (`make gpu-check` sets PLUGRAD_CUDA=gpu), so every device-parametrized test covers cuda too.
os.environ.setdefault("PLUGRAD_CUDA", "emulate")

import pytest  # noqa: E402

import plugrad  # noqa: E402
from plugrad.backend.registry import unregister_backend  # noqa: E402


class _SecondNumpyDevice:
    """numpy_ref under another name: a second device for cross-device tests."""

    def __new__(cls, name: str, dtypes: tuple[str, ...] | None = None):
        from plugrad_numpy_ref.backend import NumpyRefBackend

        backend = NumpyRefBackend()
        backend.name = name
        if dtypes is not None:
            backend.dtypes = dtypes
        return backend


@pytest.fixture
def make_device():
    """Register in-process devices (numpy_ref copies) for one test, removed afterwards."""
    names: list[str] = []

    def make(name: str, dtypes: tuple[str, ...] | None = None) -> plugrad.Device:
        names.append(name)
        return plugrad.register_backend(_SecondNumpyDevice(name, dtypes))

    yield make
    for name in names:
        unregister_backend(name)
