"""The host memory a collective reads and writes for one tensor.

On a host backend a compact tensor is handed to MPI as is: `tensor.array.numpy()` is a view of
its memory, so nothing is copied. A strided view, or a tensor on any other device, goes
through a compact host copy that `finish()` writes back. This class is the one place that
decides; a process group that addresses device memory itself (CUDA-aware MPI, NCCL) would be
handed the backend's device buffer here instead of the staged copy, through a
device-buffer method of its own next to the host ones of `ProcessGroup`.
"""

from __future__ import annotations

import numpy as np

from ..autograd import inplace
from ..autograd.tensor import Tensor
from ..ndarray import NDArray


class HostBuffer:
    """`array`: C-contiguous NumPy memory with the tensor's shape and dtype. `finish()` after
    the transfer: writes a staged copy back and counts the write in the version counter."""

    __slots__ = ("tensor", "array", "staged", "written")

    def __init__(self, tensor: Tensor, written: bool) -> None:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"collectives take plugrad tensors, got {type(tensor).__name__}")
        self.tensor = tensor
        self.written = written
        array = tensor.array
        if written:
            inplace.check_writable(tensor)
        if array.backend.is_host:
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


def host_array(tensor: Tensor) -> np.ndarray:
    """What a collective only reads: the tensor's memory, or a compact host copy."""
    return HostBuffer(tensor, written=False).array


def write_into(tensor: Tensor, values: np.ndarray) -> None:
    """Copy host `values` into `tensor` (in place, counted as a write)."""
    buffer = HostBuffer(tensor, written=True)
    np.copyto(buffer.array, values.reshape(buffer.array.shape))
    buffer.finish()
