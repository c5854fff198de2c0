"""The memory MPI gets for a tensor: its own on host backends (no copy), a staged host copy
for strided views and for devices MPI cannot address, written back when the transfer ends."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad
from plugrad.backend.registry import register_backend, unregister_backend
from plugrad.distributed.staging import HostBuffer, write_into


@pytest.mark.parametrize("device", ["c_cpu", "numpy_ref"])
def test_a_compact_host_tensor_is_handed_over_without_a_copy(device):
    t = plugrad.arange(6.0, device=device)
    buffer = HostBuffer(t, written=True)
    assert not buffer.staged and np.shares_memory(buffer.array, t.numpy())
    buffer.array[:] = 7.0  # what MPI writes
    version = t._version
    buffer.finish()
    assert t.tolist() == [7.0] * 6 and t._version == version + 1


def test_a_strided_view_is_staged_and_written_back_into_its_elements_only():
    base = plugrad.zeros(3, 4)
    view = base[:, ::2]
    buffer = HostBuffer(view, written=True)
    assert buffer.staged and buffer.array.flags.c_contiguous and buffer.array.shape == (3, 2)
    buffer.array[:] = 1.0
    buffer.finish()
    assert base.numpy().tolist() == [[1.0, 0.0, 1.0, 0.0]] * 3


@pytest.fixture
def device_memory():
    """A device that is not a host backend: numpy_ref whose to_numpy hands out copies."""
    from plugrad_numpy_ref.backend import NumpyRefBackend, _view

    class DeviceMemory(NumpyRefBackend):
        name = "device_memory"
        is_host = False

        def to_numpy(self, x):  # noqa: ANN001, ANN201
            return _view(x).copy()

    register_backend(DeviceMemory())
    yield "device_memory"
    unregister_backend("device_memory")


def test_another_device_goes_through_host_memory(device_memory):
    t = plugrad.arange(4.0, device=device_memory)
    buffer = HostBuffer(t, written=True)
    assert buffer.staged
    buffer.array[:] = [4.0, 3.0, 2.0, 1.0]
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0], "nothing reaches the device before finish()"
    buffer.finish()
    assert t.tolist() == [4.0, 3.0, 2.0, 1.0]
    write_into(t, np.zeros(4, dtype=np.float32))
    assert t.tolist() == [0.0] * 4


def test_a_broadcast_view_cannot_receive():
    with pytest.raises(RuntimeError, match="broadcast view"):
        HostBuffer(plugrad.zeros(1).broadcast_to((3,)), written=True)
    with pytest.raises(TypeError, match="plugrad tensors"):
        HostBuffer(np.zeros(3), written=True)
