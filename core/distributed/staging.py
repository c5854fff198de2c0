"""The host memory a collective reads and writes for one tensor.

On a host backend a compact tensor is handed to MPI as is: `tensor.array.numpy()` is a view of
its memory, so nothing is copied. A strided view, or a tensor on a device whose memory the
process group cannot address (`ProcessGroup.takes_device_memory`, False for MPI), goes through
a compact host copy that `finish()` writes back. That copy is the place a CUDA-aware MPI or
NCCL group skips: it would be handed the device buffer itself.
"""

from __future__ import annotations

import numpy as np

from ..autograd import inplace
from ..autograd.tensor import Tensor
from ..ndarray import NDArray
from .process_group import ProcessGroup


class HostBuffer:
    """`array`: C-contiguous NumPy memory with the tensor's shape and dtype. `finish()` after
    the transfer: writes a staged copy back and counts the write in the version counter."""

    __slots__ = ("tensor", "array", "staged", "written")

    def __init__(self, tensor: Tensor, group: ProcessGroup, written: bool) -> None:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"collectives take plugrad tensors, got {type(tensor).__name__}")
        self.tensor = tensor
        self.written = written
        array = tensor.array
        if written:
            inplace.check_writable(tensor)
        if array.backend.is_host or group.takes_device_memory(tensor.device):
            view = array.numpy()
            self.staged = not view.flags.c_contiguous
            self.array = np.ascontiguousarray(view) if self.staged else view
        else:
            self.staged = True
            self.array = np.ascontiguousarray(array.numpy())

    def finish(self) -> None:
        if not self.written:
            return
        if self.staged:
            t = self.tensor
            t.array.assign_(NDArray.from_numpy(self.array, t.device, t.dtype))
        inplace.bump(self.tensor)


def host_array(tensor: Tensor, group: ProcessGroup) -> np.ndarray:
    """What a collective only reads: the tensor's memory, or a compact host copy."""
    return HostBuffer(tensor, group, written=False).array


def write_into(tensor: Tensor, values: np.ndarray, group: ProcessGroup) -> None:
    """Copy host `values` into `tensor` (in place, counted as a write)."""
    buffer = HostBuffer(tensor, group, written=True)
    np.copyto(buffer.array, values.reshape(buffer.array.shape))
    buffer.finish()
