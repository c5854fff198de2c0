"""The cuda backend as users meet it: how `plugrad backends` lists it, the runtime it picks,
memory accounting, the shared random stream, and a model that moves devices mid-training."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest

import plugrad
from plugrad import nn
from plugrad.backend.protocol import Strided
from plugrad_cuda import probe


def backends_listing(mode: str) -> dict:
    env = {**os.environ, "PLUGRAD_CUDA": mode}
    result = subprocess.run([sys.executable, "-m", "plugrad", "backends", "--json"], env=env,
                            capture_output=True, text=True, check=True)  # fmt: skip
    return {b["name"]: b for b in json.loads(result.stdout)["backends"]}


def backends_table(mode: str) -> str:
    env = {**os.environ, "PLUGRAD_CUDA": mode}
    result = subprocess.run([sys.executable, "-m", "plugrad", "backends"], env=env,
                            capture_output=True, text=True, check=True)  # fmt: skip
    return result.stdout


def test_emulated_cuda_is_listed_available_emulated_on_the_cpu():
    cuda = backends_listing("emulate")["cuda"]
    assert cuda["available"] and cuda["note"] == "emulated on the CPU"
    assert cuda["devices"] == ["cuda"]
    assert set(cuda["fused_kernels"]) == set(plugrad.backend.protocol.OPTIONAL_KERNELS)
    line = next(row for row in backends_table("emulate").splitlines() if row.startswith("cuda"))
    assert "available (emulated on the CPU)" in line


@pytest.mark.skipif(probe.probe_driver().ok, reason="a CUDA driver is present on this machine")
def test_without_a_driver_cuda_is_unavailable_with_the_reason():
    cuda = backends_listing("auto")["cuda"]
    assert not cuda["available"]
    assert "no CUDA driver" in cuda["reason"] and "PLUGRAD_CUDA=emulate" in cuda["reason"]
    assert "cuda: BackendUnavailable: no CUDA driver" in backends_table("auto")


def test_an_unknown_mode_is_refused_with_the_choices():
    cuda = backends_listing("turbo")["cuda"]
    assert not cuda["available"] and "auto, gpu, emulate" in cuda["reason"]


def test_the_driver_is_probed_once_and_never_again_after_a_failure(monkeypatch):
    driver = pytest.importorskip("cuda.bindings.driver")
    calls = []

    def failing_init(flags):
        calls.append(flags)
        raise OSError("libcuda.so: cannot open shared object file")

    monkeypatch.setattr(driver, "cuInit", failing_init)
    monkeypatch.setattr(probe, "_probe", None)
    first = probe.probe_driver()
    second = probe.probe_driver()
    assert not first.ok and second is first and "libcuda.so" in first.reason
    assert calls == [0]
    monkeypatch.setattr(probe, "_probe", None)  # the real probe runs again for later tests


def test_memory_is_accounted_and_freed_blocks_are_reused(backend_cuda):
    before = backend_cuda.allocated_bytes()
    buffer = backend_cuda.allocate(1 << 16, "float32")
    address = buffer.address
    assert backend_cuda.allocated_bytes() == before + (1 << 18)
    del buffer
    assert backend_cuda.allocated_bytes() == before
    assert backend_cuda.cached_bytes() >= 1 << 18
    again = backend_cuda.allocate(1 << 16, "float32")
    assert again.address == address  # from the cache, no driver call
    stats = backend_cuda.memory_stats()
    assert stats["peak_allocated_bytes"] >= stats["allocated_bytes"] >= 1 << 18


@pytest.fixture(scope="module")
def backend_cuda():
    return plugrad.device("cuda").backend


@pytest.mark.parametrize("dtype", list(plugrad.dtypes.ALL))
@pytest.mark.parametrize(
    ("kernel", "args"),
    [("random_uniform", (-2.0, 3.0)), ("random_normal", (0.5, 2.0)), ("random_bernoulli", (0.3,))],
)
def test_random_numbers_are_bit_identical_to_c_cpu(backend_cuda, kernel, args, dtype):
    """One seed, one stream: Philox keyed by the seed, counter = the element's index. (On a GPU
    the normal draws may differ in the last bit where the device's log/cos round differently.)"""
    c_cpu = plugrad.device("c_cpu").backend
    draws = []
    for backend in (c_cpu, backend_cuda):
        buffer = backend.allocate(3 * 257, dtype)
        view = Strided(buffer, (3, 257), (257, 1), 0, dtype)
        if kernel != "random_bernoulli" and not plugrad.dtypes.ALL[dtype].is_floating:
            with pytest.raises(TypeError, match="floating"):  # the spec: floats only
                getattr(backend, kernel)(view, *args, 20240607)
            continue
        getattr(backend, kernel)(view, *args, 20240607)
        draws.append(np.asarray(backend.to_numpy(view)))
    if not draws:
        return
    if kernel == "random_normal" and not backend_cuda.runtime.emulated:
        # the GPU's log and cos may round the last bit differently from the host's libm
        if plugrad.dtypes.ALL[dtype].is_floating:
            eps = float(ml_dtypes.finfo(plugrad.dtypes.ALL[dtype].numpy).eps)
            np.testing.assert_allclose(draws[1].astype(np.float64), draws[0].astype(np.float64),
                                       rtol=4 * eps)  # fmt: skip
        else:  # truncation to an integer / bool flips only where a value sits on a boundary
            assert np.mean(draws[1] != draws[0]) < 1e-3
    else:
        assert draws[0].tobytes() == draws[1].tobytes()


def small_model(device) -> nn.Module:
    plugrad.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5)
    ).to(device, plugrad.float64)


def train(model, steps_on: list[str]) -> list[float]:
    """Adam on a fixed batch; the model (and the optimizer's state, which follows its
    parameters) moves to steps_on[i] before step i."""
    rng = np.random.default_rng(0)
    x_host = rng.normal(size=(8, 1, 6, 6))
    y_host = rng.integers(0, 5, size=8)
    opt = plugrad.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for device in steps_on:
        model.to(device)
        x = plugrad.tensor(x_host, dtype=plugrad.float64, device=device)
        y = plugrad.tensor(y_host, dtype=plugrad.int64, device=device)
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_a_model_moved_to_cuda_and_back_mid_training_matches_one_that_never_moved():
    stay = train(small_model("c_cpu"), ["c_cpu"] * 9)
    moved = train(small_model("c_cpu"), ["c_cpu"] * 3 + ["cuda"] * 3 + ["c_cpu"] * 3)
    np.testing.assert_allclose(moved, stay, rtol=1e-10)
    assert stay[-1] < stay[0]  # it trained


@pytest.mark.parametrize("op", ["sum", "max", "min", "prod"])
@pytest.mark.parametrize(
    ("shape", "axes"), [((3, 70000), (1,)), ((2, 300, 257), (0, 2)), ((140000,), (0,))]
)
def test_few_long_rows_are_reduced_in_two_passes(backend_cuda, op, shape, axes):
    """Rows of 65536+ elements with few outputs are cut into parts (pass 1) and folded (pass 2);
    a row of a non-mergeable strided view walks its dimensions."""
    rng = np.random.default_rng(len(shape))
    host = rng.choice(np.array([-1, 1, 2, 3], dtype=np.int64), size=shape)
    if op == "prod":
        host = np.where(rng.random(shape) < 0.999, 1, host)  # keeps products in int64
    x = backend_cuda.from_numpy(host.reshape(-1))
    view = Strided(x, shape, tuple(s // 8 for s in host.strides), 0, "int64")
    out_shape = tuple(s for d, s in enumerate(shape) if d not in axes)
    out = backend_cuda.allocate(int(np.prod(out_shape)), "int64")
    out_view = Strided(out, out_shape, tuple(int(np.prod(out_shape[d + 1 :])) for d in
                                             range(len(out_shape))), 0, "int64")  # fmt: skip
    backend_cuda.reduce(op, view, axes, out_view)
    expected = getattr(np, op)(host, axis=axes)
    np.testing.assert_array_equal(backend_cuda.to_numpy(out_view), expected)


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_long_rows_arg_reduce_by_block_with_the_first_index_winning(backend_cuda, op):
    host = np.random.default_rng(5).integers(-3, 4, size=(3, 5000)).astype(np.float32)
    host[1, 4000] = np.nan  # NaN is the extreme, as in NumPy
    x = backend_cuda.from_numpy(host.reshape(-1))
    out = backend_cuda.allocate(3, "int64")
    backend_cuda.arg_reduce(op, Strided(x, (3, 5000), (5000, 1), 0, "float32"), 1,
                            Strided(out, (3,), (1,), 0, "int64"))  # fmt: skip
    expected = getattr(np, op)(host, axis=1)
    np.testing.assert_array_equal(backend_cuda.to_numpy(Strided(out, (3,), (1,), 0, "int64")),
                                  expected)  # fmt: skip


def _compact(backend, shape, dtype) -> Strided:
    strides = tuple(int(np.prod(shape[d + 1 :])) for d in range(len(shape)))
    return Strided(backend.allocate(int(np.prod(shape)), dtype), shape, strides, 0, dtype)


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize(("shape", "axis"), [((3, 700), 1), ((2, 5000), 1), ((3000, 2), 0)])
def test_sort_is_stable_in_shared_memory_and_in_global_stages(backend_cuda, shape, axis,
                                                              descending):  # fmt: skip
    """Rows up to 2048 sort in one block's shared memory; longer rows run one launch per stage
    of the bitonic network. Many ties check stability; NaN sorts as the largest value."""
    rng = np.random.default_rng(shape[axis])
    host = rng.integers(-4, 5, size=shape).astype(np.float32)
    host.flat[::97] = np.nan
    x = backend_cuda.from_numpy(host.reshape(-1))
    view = Strided(x, shape, (shape[1], 1), 0, "float32")
    values, indices = _compact(backend_cuda, shape, "float32"), _compact(backend_cuda, shape,
                                                                       "int64")  # fmt: skip
    backend_cuda.sort(view, axis, descending, values, indices)
    key = np.where(np.isnan(host), np.inf, host)
    key = np.where(np.isnan(host), -np.inf, -host) if descending else key
    expected = np.argsort(key, axis=axis, kind="stable")
    np.testing.assert_array_equal(backend_cuda.to_numpy(indices), expected)
    np.testing.assert_array_equal(
        backend_cuda.to_numpy(values), np.take_along_axis(host, expected, axis)
    )


@pytest.mark.parametrize("op", ["sum", "max"])
def test_long_rows_scan_carries_across_chunks(backend_cuda, op):
    host = np.random.default_rng(9).integers(-3, 4, size=(2, 3000)).astype(np.int64)
    x = backend_cuda.from_numpy(host.reshape(-1))
    out = _compact(backend_cuda, (2, 3000), "int64")
    backend_cuda.scan(op, Strided(x, (2, 3000), (3000, 1), 0, "int64"), 1, out, None)
    expected = np.cumsum(host, axis=1) if op == "sum" else np.maximum.accumulate(host, axis=1)
    np.testing.assert_array_equal(backend_cuda.to_numpy(out), expected)
