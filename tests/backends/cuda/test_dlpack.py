"""DLPack with the CUDA device type: cuda tensors go out and come back without a copy, views
keep their strides, and exported memory lives exactly as long as someone holds it."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import plugrad

KDL_CUDA = 2


@pytest.fixture(scope="module")
def cuda():
    return plugrad.device("cuda")


def test_cuda_tensors_report_the_cuda_device_type(cuda):
    x = plugrad.zeros(3, device=cuda)
    assert x.__dlpack_device__() == (KDL_CUDA, 0)


def test_a_round_trip_shares_memory(cuda):
    x = plugrad.arange(12, dtype=plugrad.float32, device=cuda).reshape(3, 4)
    y = plugrad.from_dlpack(x)
    assert y.device == cuda and y.shape == (3, 4)
    assert y.array.buffer.address == x.array.buffer.address
    with plugrad.no_grad():
        x[1, 2] = 100.0  # written through x, seen through y
    np.testing.assert_array_equal(y.numpy(), np.arange(12).reshape(3, 4) + np.where(
        np.arange(12).reshape(3, 4) == 6, 94, 0))  # fmt: skip


@pytest.mark.parametrize("view", ["transposed", "flipped", "sliced"])
def test_strided_views_keep_their_layout(cuda, view):
    base = np.arange(30, dtype=np.float64).reshape(5, 6)
    x = plugrad.tensor(base, device=cuda)
    x, expected = {
        "transposed": (x.T, base.T),
        "flipped": (x.flip(0), base[::-1]),
        "sliced": (x[1:, ::2], base[1:, ::2]),
    }[view]
    y = plugrad.from_dlpack(x)
    assert y.array.strides == x.array.strides
    np.testing.assert_array_equal(y.numpy(), expected)


@pytest.mark.parametrize("dtype", list(plugrad.dtypes.ALL))
def test_every_dtype_crosses(cuda, dtype):
    host = (np.arange(7) % 3).astype(plugrad.dtypes.ALL[dtype].numpy)
    y = plugrad.from_dlpack(plugrad.tensor(host, device=cuda))
    assert y.dtype.name == dtype
    np.testing.assert_array_equal(y.numpy(), host)


def test_exported_memory_lives_while_held_and_is_released_after(cuda):
    backend = cuda.backend
    gc.collect()
    before = backend.allocated_bytes()
    x = plugrad.zeros(1 << 16, device=cuda)
    capsule = x.__dlpack__()
    del x
    gc.collect()
    assert backend.allocated_bytes() >= before + 4 * (1 << 16)  # the capsule holds it
    del capsule  # never consumed: its destructor releases the memory
    gc.collect()
    assert backend.allocated_bytes() == before
    y = plugrad.from_dlpack(plugrad.ones(1 << 16, device=cuda))
    gc.collect()
    assert backend.allocated_bytes() >= before + 4 * (1 << 16)  # the importer holds it
    assert float(y.sum().item()) == 1 << 16
    del y
    gc.collect()
    assert backend.allocated_bytes() == before


def test_memory_of_a_device_nobody_has_is_refused():
    class Elsewhere:
        def __dlpack_device__(self):
            return (KDL_CUDA, 7)

        def __dlpack__(self, stream=None):
            raise AssertionError("must not be asked for its capsule")

    with pytest.raises(BufferError, match="device type 2 index 7"):
        plugrad.from_dlpack(Elsewhere())


def test_torch_cuda_tensors_come_and_go_without_a_copy(cuda):
    torch = pytest.importorskip("torch")
    if cuda.backend.runtime.emulated or not torch.cuda.is_available():
        pytest.skip("needs a GPU with a CUDA build of torch (make gpu-check)")
    t = torch.arange(10, dtype=torch.float32, device="cuda")
    x = plugrad.from_dlpack(t)
    assert x.device == cuda and x.array.buffer.address == t.data_ptr()
    back = torch.from_dlpack(x * 2)
    assert back.device.type == "cuda"
    np.testing.assert_array_equal(back.cpu().numpy(), np.arange(10) * 2)


def test_the_emulated_device_refuses_another_librarys_cuda_memory(cuda):
    if not cuda.backend.runtime.emulated:
        pytest.skip("on a GPU, other libraries' CUDA memory is welcome")
    foreign = plugrad.zeros(4, device=cuda)
    capsule = foreign.__dlpack__()
    # the same capsule, handed over by "another library" with its own deleter
    from plugrad_cuda import dlpack

    managed = dlpack.DLManagedTensor.from_address(
        dlpack._api.PyCapsule_GetPointer(capsule, b"dltensor")
    )
    own_deleter = managed.deleter
    managed.deleter = dlpack._Deleter(lambda m: own_deleter(m))

    class Producer:
        def __dlpack_device__(self):
            return (KDL_CUDA, 0)

        def __dlpack__(self, stream=None):
            return capsule

    with pytest.raises(BufferError, match="only from plugrad's own cuda tensors"):
        plugrad.from_dlpack(Producer())
    managed.deleter = own_deleter
