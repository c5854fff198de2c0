"""Devices: names, defaults, moving tensors, refusing silent cross-device work."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import plugrad


def test_cpu_alias_and_default_device():
    cpu = plugrad.device("cpu")
    assert cpu.backend.is_host
    assert plugrad.get_default_device() is cpu or "PLUGRAD_DEVICE" in __import__("os").environ
    assert plugrad.zeros(2).device is plugrad.get_default_device()


def test_unknown_device_lists_installed_ones():
    with pytest.raises(ValueError, match=r"unknown device 'nope'.*numpy_ref"):
        plugrad.zeros(2, device="nope")


def test_with_device_and_set_default(make_device):
    other = make_device("numpy_ref_b")
    with plugrad.device("numpy_ref_b"):
        assert plugrad.ones(3).device is other
    assert plugrad.ones(3).device is not other
    previous = plugrad.get_default_device()
    plugrad.set_default_device(other)
    try:
        assert plugrad.randn(2).device is other
    finally:
        plugrad.set_default_device(previous)


def test_with_device_is_per_thread(make_device):
    """`with plugrad.device(...)` in one thread never moves another thread's new tensors."""
    other = make_device("numpy_ref_b")
    default = plugrad.get_default_device()
    inside, outside = threading.Event(), threading.Event()
    seen = {}

    def in_block():
        with plugrad.device("numpy_ref_b"):
            inside.set()
            outside.wait(timeout=60)  # (guards a hang only; no timing is asserted)
            seen["in block"] = plugrad.zeros(1).device

    def beside():
        inside.wait(timeout=60)
        seen["other thread"] = plugrad.zeros(1).device
        with plugrad.device("numpy_ref"):  # a block of its own, nested in nothing
            seen["own block"] = plugrad.zeros(1).device
        outside.set()

    threads = [threading.Thread(target=in_block), threading.Thread(target=beside)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert seen == {"in block": other, "other thread": default,
                    "own block": plugrad.device("numpy_ref")}  # fmt: skip
    assert plugrad.get_default_device() is default


def test_set_default_device_is_process_wide(make_device):
    other = make_device("numpy_ref_b")
    previous = plugrad.get_default_device()
    plugrad.set_default_device(other)
    try:
        seen = []
        worker = threading.Thread(target=lambda: seen.append(plugrad.ones(1).device))
        worker.start()
        worker.join(timeout=120)
        assert seen == [other]  # as torch.set_default_device
    finally:
        plugrad.set_default_device(previous)


def test_to_moves_values_and_gradients_flow_back(make_device):
    make_device("numpy_ref_b")
    x = plugrad.tensor([1.0, 2.0], device="numpy_ref", requires_grad=True)
    y = x.to("numpy_ref_b")
    assert y.device.name == "numpy_ref_b"
    (y * y).sum().backward()
    assert x.grad.device.name == "numpy_ref"
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    assert x.to("numpy_ref") is x


def test_ops_across_devices_raise(make_device):
    make_device("numpy_ref_b")
    a = plugrad.ones(2, device="numpy_ref")
    b = plugrad.ones(2, device="numpy_ref_b")
    with pytest.raises(RuntimeError, match=r"different devices: numpy_ref and numpy_ref_b"):
        a + b
    with pytest.raises(RuntimeError, match="different devices"):
        plugrad.ones(2, 2, device="numpy_ref") @ plugrad.ones(2, 2, device="numpy_ref_b")


def test_a_dtype_the_backend_lacks_is_refused(make_device):
    make_device("f32_only", dtypes=("float32", "bool"))
    with pytest.raises(TypeError, match=r"'f32_only' does not support dtype float64"):
        plugrad.zeros(2, dtype=plugrad.float64, device="f32_only")
    with pytest.raises(TypeError, match="does not support dtype float64"):
        plugrad.zeros(2, dtype=plugrad.float64, device="numpy_ref").to("f32_only")


def test_memory_accounting_follows_buffers():
    import gc

    before = plugrad.memory_allocated("numpy_ref")
    x = plugrad.empty(1000, dtype=plugrad.float64, device="numpy_ref")
    assert plugrad.memory_allocated("numpy_ref") >= before + 8000
    del x
    gc.collect()
    assert plugrad.memory_allocated("numpy_ref") <= before


def test_numpy_and_dlpack_interop_is_zero_copy_on_host():
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = plugrad.from_numpy(base[:, ::-2], device="numpy_ref")
    np.testing.assert_array_equal(t.numpy(), base[:, ::-2])
    base[0, 3] = 100.0
    assert t[0, 0].item() == 100.0  # shares memory
    d = plugrad.from_dlpack(base, device="numpy_ref")
    d[1, 1] = -1.0
    assert base[1, 1] == -1.0
    back = np.from_dlpack(d)
    assert np.shares_memory(back, base)
    assert np.asarray(t).shape == (3, 2)


def test_tensor_construction_dtypes():
    assert plugrad.tensor([1.0, 2.0]).dtype == plugrad.float32
    assert plugrad.tensor([1, 2]).dtype == plugrad.int64
    assert plugrad.tensor([True]).dtype == plugrad.bool
    assert plugrad.tensor(np.zeros(2)).dtype == plugrad.float64
    assert plugrad.tensor([1, 2], dtype="float64").dtype == plugrad.float64
    with pytest.raises(TypeError, match="unsupported dtype"):
        plugrad.zeros(2, dtype="complex64")
    with pytest.raises(TypeError, match="cannot make"):
        plugrad.tensor(["a"])


def test_mismatched_shapes_name_them():
    with pytest.raises(ValueError, match=r"\(2, 3\), \(4,\) cannot be broadcast"):
        plugrad.ones(2, 3) + plugrad.ones(4)
    with pytest.raises(ValueError, match=r"inner dimensions 3 and 4"):
        plugrad.ones(2, 3) @ plugrad.ones(4, 2)
    with pytest.raises(ValueError, match="cannot reshape"):
        plugrad.ones(2, 3).reshape(4, 2)
    with pytest.raises(TypeError, match="floating"):
        plugrad.ones(2, 2, dtype="int64") @ plugrad.ones(2, 2, dtype="int64")


def test_view_refuses_and_reshape_copies_non_contiguous():
    t = plugrad.arange(6).reshape(2, 3).T
    with pytest.raises(RuntimeError, match="reshape"):
        t.view(6)
    assert t.reshape(6).tolist() == [0, 3, 1, 4, 2, 5]
