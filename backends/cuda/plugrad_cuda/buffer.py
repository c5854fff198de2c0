"""CudaBuffer: a flat run of device memory (emulated: host memory) holding one dtype."""

from __future__ import annotations

from . import dtypes


class CudaBuffer:
    """`size` elements of `dtype` at device address `address` (0 when size is 0).

    The block goes back to the backend's caching allocator when the last reference dies. A
    buffer over memory imported through DLPack instead keeps `owner` alive and frees nothing.
    """

    __slots__ = ("address", "size", "dtype", "nbytes", "device", "_block", "_allocator", "owner",
                 "__weakref__")  # fmt: skip

    def __init__(self, allocator, size: int, dtype: str, device: int = 0) -> None:
        self.size = size
        self.dtype = dtype
        self.nbytes = size * dtypes.BY_NAME[dtype].itemsize
        self.device = device
        self.owner = None
        self._allocator = None
        self._block = 0
        if self.nbytes:
            self.address, self._block = allocator.allocate(self.nbytes)
            self._allocator = allocator
        else:
            self.address = 0

    @classmethod
    def wrap(cls, address: int, size: int, dtype: str, owner: object, device: int = 0):
        """A buffer over memory someone else owns (kept alive through `owner`)."""
        buffer = cls.__new__(cls)
        buffer.address, buffer.size, buffer.dtype = address, size, dtype
        buffer.nbytes = size * dtypes.BY_NAME[dtype].itemsize
        buffer.device, buffer.owner, buffer._allocator, buffer._block = device, owner, None, 0
        return buffer

    def __del__(self) -> None:
        allocator = self._allocator
        if allocator is not None:
            self._allocator = None
            try:
                allocator.release(self.address, self._block)
            except Exception:  # interpreter shutdown: the memory goes with the process
                pass

    def __repr__(self) -> str:
        return f"CudaBuffer(size={self.size}, dtype={self.dtype}, device={self.device})"
