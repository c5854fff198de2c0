"""plugrad.autocast's contract: regions nest and turn off, work as decorators, are per
thread and per device type; float64 and integer inputs are never cast; gradients come back
through the casts in each parameter's dtype, with torch's values; parameters' casts are cached
within the outermost region; bad arguments raise errors that name the allowed values."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import plugrad
import plugrad.nn as nn
import plugrad.nn.functional as F
from plugrad.amp import autocast_op

LOW = "numpy_ref"  # the reference backend declares float16 and bfloat16

pytestmark = pytest.mark.skipif(
    LOW not in plugrad.available_devices(), reason="needs the numpy_ref backend"
)


def _x(*shape: int, dtype: str = "float32") -> plugrad.Tensor:
    rng = np.random.default_rng(sum(shape))
    return plugrad.tensor(rng.normal(size=shape), dtype=dtype, device=LOW)


def test_regions_nest_and_enabled_false_turns_autocast_off_inside():
    x = _x(3, 3)
    assert not plugrad.is_autocast_enabled()
    with plugrad.autocast("cpu"):
        assert plugrad.is_autocast_enabled() and plugrad.is_autocast_enabled("cpu")
        assert plugrad.is_autocast_enabled(LOW)  # "cpu" covers every host backend
        assert (x @ x).dtype is plugrad.bfloat16
        with plugrad.autocast("cpu", enabled=False):
            assert not plugrad.is_autocast_enabled()
            assert (x @ x).dtype is plugrad.float32
            with plugrad.autocast(LOW, dtype=plugrad.float16):
                assert plugrad.get_autocast_dtype(LOW) is plugrad.float16
                assert plugrad.get_autocast_dtype("cpu") is plugrad.bfloat16
                assert (x @ x).dtype is plugrad.float16
        assert (x @ x).dtype is plugrad.bfloat16
    assert (x @ x).dtype is plugrad.float32
    assert not plugrad.is_autocast_enabled("cpu")


def test_default_dtypes_are_torchs_cpu_and_cuda_ones():
    assert plugrad.get_autocast_dtype("cpu") is plugrad.bfloat16
    assert plugrad.get_autocast_dtype(LOW) is plugrad.bfloat16
    assert plugrad.autocast("cpu").fast_dtype is plugrad.bfloat16
    if "cuda" in {plugrad.device(n).type for n in plugrad.available_devices()}:
        assert plugrad.get_autocast_dtype("cuda") is plugrad.float16


def test_autocast_is_a_decorator_and_plugrad_amp_autocast_is_the_same():
    assert plugrad.amp.autocast is plugrad.autocast

    @plugrad.amp.autocast("cpu", dtype="float16")
    def product(a: plugrad.Tensor) -> plugrad.Tensor:
        assert plugrad.is_autocast_enabled("cpu")
        return a @ a

    assert product(_x(2, 2)).dtype is plugrad.float16
    assert not plugrad.is_autocast_enabled()


def test_float64_and_integer_inputs_are_never_cast():
    x64 = _x(3, 3, dtype="float64")
    with plugrad.autocast("cpu"):
        assert (x64 @ x64).dtype is plugrad.float64  # torch leaves double alone too
        assert F.linear(x64, x64).dtype is plugrad.float64
        ints = plugrad.tensor([[1, 2], [3, 4]], device=LOW)
        assert F.mse_loss(ints.double(), ints.double()).dtype is plugrad.float64
        assert plugrad.tensor([1, 2], device=LOW).prod().dtype is plugrad.int64


def test_gradients_reach_parameters_in_their_dtype_with_torchs_values():
    torch = pytest.importorskip("torch", reason="torch is the test-only oracle")
    rng = np.random.default_rng(0)
    w1, b1 = rng.normal(size=(16, 8)) / 3, rng.normal(size=16) / 3
    w2, b2 = rng.normal(size=(4, 16)) / 4, rng.normal(size=4) / 4
    x, y = rng.normal(size=(32, 8)), rng.integers(0, 4, size=32)

    def run(lib, make, target):
        params = [make(a).requires_grad_() for a in (w1, b1, w2, b2)]
        with lib.autocast("cpu", dtype=lib.bfloat16):
            # tanh, not relu: a pre-activation near 0 may round to either side in bfloat16
            hidden = lib.nn.functional.linear(make(x), params[0], params[1]).tanh()
            logits = lib.nn.functional.linear(hidden, params[2], params[3])
            loss = lib.nn.functional.cross_entropy(logits, target)
        assert str(logits.dtype).endswith("bfloat16") and str(loss.dtype).endswith("float32")
        loss.backward()
        return loss.item(), [(p.grad.dtype, p.grad.numpy().astype(np.float64)) for p in params]

    ours = run(plugrad, lambda a: plugrad.tensor(a, dtype="float32", device=LOW),
               plugrad.tensor(y, device=LOW))  # fmt: skip
    theirs = run(torch, lambda a: torch.tensor(a, dtype=torch.float32), torch.tensor(y))
    assert ours[0] == pytest.approx(theirs[0], rel=1e-2)
    for (dtype, grad), (_, expected) in zip(ours[1], theirs[1]):
        assert dtype is plugrad.float32
        np.testing.assert_allclose(grad, expected, rtol=3e-2, atol=3e-3)


def test_backward_inside_a_region_gives_the_gradients_of_backward_outside():
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)).to(LOW)
    x, y = _x(4, 6), plugrad.tensor([0, 1, 2, 0], device=LOW)

    def grads(backward_inside: bool) -> list[np.ndarray]:
        model.zero_grad()
        with plugrad.autocast("cpu"):
            loss = F.cross_entropy(model(x), y)
            if backward_inside:
                loss.backward()
        if not backward_inside:
            loss.backward()
        return [p.grad.numpy() for p in model.parameters()]

    for inside, outside in zip(grads(True), grads(False)):
        np.testing.assert_array_equal(inside, outside)


def test_a_parameters_cast_is_cached_within_the_outermost_region():
    layer = nn.Linear(3, 3).to(LOW)
    x = _x(2, 3)

    def weight_cast(out: plugrad.Tensor) -> plugrad.Tensor:
        return out._inputs[1]  # Linear's inputs: (x, weight, bias), each as autocast cast it

    with plugrad.autocast("cpu"):
        first, second = layer(x), layer(x)
        assert weight_cast(first) is weight_cast(second)
        with plugrad.autocast("cpu"):  # a nested region shares the outer one's cache
            assert weight_cast(layer(x)) is weight_cast(first)
        with plugrad.no_grad():
            layer.weight.mul_(2.0)  # a new version of the weight is cast anew
        assert weight_cast(layer(x)) is not weight_cast(first)
    with plugrad.autocast("cpu"):
        assert weight_cast(layer(x)) is not weight_cast(first)  # the cache went with the region
    with plugrad.autocast("cpu", cache_enabled=False):
        assert weight_cast(layer(x)) is not weight_cast(layer(x))


def test_regions_cover_their_device_type_only(make_device):
    other = make_device("amp_other_host")  # a second host backend: its type is its name
    x, y = _x(2, 2), _x(2, 2).to(other)
    with plugrad.autocast(LOW):
        assert (x @ x).dtype is plugrad.bfloat16
        assert (y @ y).dtype is plugrad.float32
    with plugrad.autocast("cpu"):
        assert (y @ y).dtype is plugrad.bfloat16


def test_the_state_is_per_thread():
    seen = []
    x = _x(2, 2)
    with plugrad.autocast("cpu"):
        worker = threading.Thread(target=lambda: seen.append((x @ x).dtype))
        worker.start()
        worker.join()
    assert seen == [plugrad.float32]


def test_an_unsupported_dtype_names_the_allowed_ones():
    with pytest.raises(ValueError, match="float16 or bfloat16, got float32"):
        plugrad.autocast("cpu", dtype=plugrad.float32)
    with pytest.raises(ValueError, match="float16 or bfloat16, got int64"):
        plugrad.autocast("cpu", dtype="long")
    with pytest.raises(ValueError, match="unknown dtype 'fp8'"):
        plugrad.autocast("cpu", dtype="fp8")


def test_an_unknown_device_type_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown device type 'tpu'; choose one of .*cpu"):
        plugrad.autocast("tpu")
    with pytest.raises(ValueError, match="has no ':index'"):
        plugrad.autocast(f"{LOW}:0")
    with pytest.raises(TypeError, match="device_type must be a string"):
        plugrad.autocast(plugrad.device(LOW))
    with pytest.raises(TypeError, match="enabled must be a bool"):
        plugrad.autocast("cpu", enabled=1)
    with pytest.raises(ValueError, match="unknown device type"):
        plugrad.get_autocast_dtype("tpu")


def test_autocast_op_refuses_a_name_outside_the_policy():
    with pytest.raises(ValueError, match="not in plugrad.amp.policy's lists"):
        autocast_op("my_matmul")


@pytest.fixture
def accelerator(make_device):
    """A numpy_ref copy that says it is not a host backend: it follows torch's CUDA lists."""
    from plugrad_numpy_ref.backend import NumpyRefBackend

    class Accelerator(NumpyRefBackend):
        is_host = False

    backend = Accelerator()
    backend.name = "amp_accelerator"
    device = plugrad.register_backend(backend)
    yield device
    plugrad.unregister_backend(device.name)


def test_devices_that_are_not_host_backends_follow_torchs_cuda_lists(accelerator):
    name = accelerator.name
    x = _x(4, 4).to(accelerator)
    low = x.half()
    assert plugrad.get_autocast_dtype(name) is plugrad.float16  # torch's CUDA default
    with plugrad.autocast("cpu"):  # not a host device: "cpu" does not cover it
        assert (x @ x).dtype is plugrad.float32
    with plugrad.autocast(name):
        assert (x @ x).dtype is plugrad.float16
        assert plugrad.einsum("ij,jk->ik", x, x).dtype is plugrad.float16
        for out in (low.softmax(-1), F.log_softmax(low, -1), low.sum(), low.exp(),
                    low.cumsum(0), F.layer_norm(low, (4,)), F.group_norm(low, 2),
                    F.mse_loss(low, low), F.cosine_similarity(low, low)):  # fmt: skip
            assert out.dtype is plugrad.float32
        assert (low + low).dtype is plugrad.float16  # not listed: its inputs' dtype
        with pytest.raises(RuntimeError, match="unsafe to autocast.*with_logits"):
            F.binary_cross_entropy(low.sigmoid(), low.sigmoid())  # torch refuses it too
        assert F.binary_cross_entropy_with_logits(low, low.sigmoid()).dtype is plugrad.float32


def test_a_checkpoint_recomputes_under_its_forwards_autocast():
    from plugrad.utils.checkpoint import checkpoint

    block = nn.Sequential(nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 6)).to(LOW)
    x = _x(3, 6).requires_grad_()

    def grads(checkpointed: bool) -> list[np.ndarray]:
        block.zero_grad()
        x.grad = None
        with plugrad.autocast("cpu"):
            out = checkpoint(block, x) if checkpointed else block(x)
            assert out.dtype is plugrad.bfloat16
            loss = F.mse_loss(out, plugrad.zeros(3, 6, device=LOW))
        loss.backward()  # outside the region: the recomputation restores it
        return [x.grad.numpy()] + [p.grad.numpy() for p in block.parameters()]

    for ours, plain in zip(grads(True), grads(False)):
        np.testing.assert_array_equal(ours, plain)


def test_a_device_without_the_low_dtype_is_named_when_autocast_reaches_it(make_device):
    narrow = make_device("amp_narrow", dtypes=("float32", "float64", "int64", "bool"))
    x = _x(2, 2).to(narrow)
    with plugrad.autocast("cpu"), pytest.raises(TypeError, match="amp_narrow, which does not"):
        x @ x
