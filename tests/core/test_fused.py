"""The optional fused kernels as the core uses them (`plugrad.ops.fused`): the backend's kernel
(c_cpu) and the composite from required kernels (numpy_ref, which lacks them, and c_cpu with the
kernel hidden) agree with each other and with NumPy; end to end, cross_entropy, relu and the
in-place add_/sub_ that now run through them match torch and NumPy."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import plugrad
import plugrad.nn.functional as F
from plugrad.backend.protocol import OPTIONAL_KERNELS
from plugrad.backend.registry import available_devices, get_device
from plugrad.ndarray import NDArray
from plugrad.ops import fused

DEVICES = ("c_cpu", "numpy_ref")
DTYPES = (plugrad.float32, plugrad.float64)
KERNEL = "kernel"  # c_cpu's own kernel
HIDDEN = "composite-c_cpu"  # c_cpu with the kernel hidden: the core's composite
REFERENCE = "composite-numpy_ref"  # numpy_ref has no optional kernels
PATHS = (KERNEL, HIDDEN, REFERENCE)


def need(device: str) -> None:
    if device not in available_devices():
        pytest.skip(f"device {device} is not available here")


def tol(dtype) -> dict:
    return (
        {"rtol": 1e-5, "atol": 1e-6} if dtype is plugrad.float32 else {"rtol": 1e-11, "atol": 1e-12}
    )


@contextlib.contextmanager
def kernel_hidden(backend, name: str):
    """The backend without its optional kernel `name` (the core then composes it)."""
    assert name not in vars(backend), f"{name} already patched on {backend!r}"
    setattr(backend, name, None)
    try:
        yield
    finally:
        delattr(backend, name)
    assert callable(getattr(backend, name)), "the kernel was not restored"


@contextlib.contextmanager
def kernel_spy(backend, name: str):
    """Count the calls of the backend's kernel `name` (calls pass through)."""
    original = getattr(backend, name)
    calls: list[int] = []

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    setattr(backend, name, spy)
    try:
        yield calls
    finally:
        delattr(backend, name)


@contextlib.contextmanager
def on_path(path: str, name: str):
    """(device name, call counter) for one dispatch path of kernel `name`; on KERNEL the
    counter must end at 1 or more, elsewhere the kernel must not exist."""
    device = "numpy_ref" if path == REFERENCE else "c_cpu"
    need(device)
    backend = get_device(device).backend
    if path == REFERENCE:
        assert getattr(backend, name, None) is None, f"numpy_ref gained {name}: no composite path"
        yield device, None
    elif path == HIDDEN:
        with kernel_hidden(backend, name):
            yield device, None
    else:
        assert callable(getattr(backend, name, None)), f"c_cpu lacks the kernel {name}"
        with kernel_spy(backend, name) as calls:
            yield device, calls
        assert calls, f"the kernel path did not call c_cpu's {name}"


def array(values, device: str, dtype, layout: str = "compact") -> NDArray:
    """An NDArray equal to `values` laid out as `layout` (a view unless compact)."""
    values = np.asarray(values)
    if layout == "transposed":
        return plugrad.tensor(np.ascontiguousarray(values.T), dtype=dtype, device=device).T.array
    if layout == "strided":
        wide = np.repeat(values, 2, axis=-1)
        return plugrad.tensor(wide, dtype=dtype, device=device)[..., ::2].array
    if layout == "flipped":
        return plugrad.tensor(values[::-1].copy(), dtype=dtype, device=device).flip(0).array
    if layout == "broadcast":  # every row the same: values[0] broadcast down
        row = plugrad.tensor(values[:1], dtype=dtype, device=device)
        return row.broadcast_to(values.shape).array
    return plugrad.tensor(values, dtype=dtype, device=device).array


def f64(x) -> np.ndarray:
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x, dtype=np.float64)


def log_softmax_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def one_hot(target, classes: int) -> np.ndarray:
    hot = np.zeros((len(target), classes))
    hot[np.arange(len(target)), target] = 1.0
    return hot


def test_every_optional_kernel_is_covered_here():
    assert set(OPTIONAL_KERNELS) == {"relu_backward", "axpy", "cross_entropy",
                                     "cross_entropy_backward", "softmax", "softmax_backward",
                                     "log_softmax", "log_softmax_backward", "lstm_gates",
                                     "lstm_gates_backward"}  # fmt: skip


# --- the dispatch in plugrad.ops.fused, path by path, against NumPy -----------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("layout", ["compact", "transposed", "strided", "broadcast"])
@pytest.mark.parametrize("path", PATHS)
def test_relu_backward_paths(path, layout, dtype):
    rng = np.random.default_rng(0)
    y = rng.choice(np.array([-2.0, -0.0, 0.0, 0.5, 3.0, np.nan]), size=(4, 6))
    grad = rng.uniform(-3, 3, (4, 6))
    grad[0, :] = np.inf  # where y <= 0 the result is 0, not grad * 0
    with on_path(path, "relu_backward") as (device, _):
        out = fused.relu_backward(array(grad, device, dtype, layout), array(y, device, dtype))
    assert out.shape == (4, 6) and out.dtype is dtype and out.device.name == device
    y_cast = y.astype(dtype.numpy)
    expected = np.where(y_cast <= 0, 0.0, grad.astype(dtype.numpy)[:1] if layout == "broadcast"
                        else grad.astype(dtype.numpy))  # fmt: skip
    np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("layout", ["compact", "transposed", "flipped", "broadcast", "same"])
@pytest.mark.parametrize("alpha", [2.5, -1.0, 0.0])
@pytest.mark.parametrize("path", PATHS)
def test_axpy_paths(path, alpha, layout, dtype):
    rng = np.random.default_rng(1)
    start, x = rng.uniform(-3, 3, (5, 5)), rng.uniform(-3, 3, (5, 5))
    with on_path(path, "axpy") as (device, _):
        out = array(start, device, dtype)
        source = out if layout == "same" else array(x, device, dtype, layout)
        assert fused.axpy(alpha, source, out) is None
    if layout == "same":
        x = start
    elif layout == "broadcast":
        x = np.broadcast_to(x[:1], x.shape)
    expected = start.astype(dtype.numpy) + alpha * x.astype(dtype.numpy).astype(np.float64)
    np.testing.assert_allclose(f64(out), expected, **tol(dtype))


CE_CASES = {  # name: (logits, target)
    "small": (np.random.default_rng(2).uniform(-4, 4, (5, 7)), [6, 0, 3, 3, 1]),
    "large": (np.array([[1000.0, 0.0, -1000.0], [-1000.0, -999.0, -1002.0]]), [2, 1]),
    "N=1": (np.array([[0.5, -1.0, 2.0, 0.0]]), [3]),
    "C=1": (np.array([[3.0], [-2.0], [0.0]]), [0, 0, 0]),
    "wide": (np.random.default_rng(3).uniform(-6, 6, (3, 300)), [299, 0, 257]),
}


def run_cross_entropy(path, logits, target, scale, dtype, layout):
    with on_path(path, "cross_entropy") as (device, _):
        x = array(logits, device, dtype, layout)
        t = plugrad.tensor(target, dtype=plugrad.int64, device=device).array
        return fused.cross_entropy(x, t, scale)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("layout", ["compact", "transposed", "strided"])
@pytest.mark.parametrize("case", list(CE_CASES))
@pytest.mark.parametrize("path", PATHS)
def test_cross_entropy_paths(path, case, layout, dtype):
    logits, target = CE_CASES[case]
    n, c = logits.shape
    logits32 = logits.astype(dtype.numpy)
    expected_lp = log_softmax_rows(logits32)
    for scale in (1.0, 1.0 / n):
        log_probs, loss = run_cross_entropy(path, logits, target, scale, dtype, layout)
        assert log_probs.shape == (n, c) and loss.shape == () and loss.dtype is dtype
        np.testing.assert_allclose(f64(log_probs), expected_lp, **tol(dtype))
        expected = -scale * expected_lp[np.arange(n), target].sum()
        np.testing.assert_allclose(f64(loss), expected, **tol(dtype))
        assert np.isfinite(f64(log_probs)).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("path", PATHS)
def test_cross_entropy_backward_paths(path, dtype):
    logits, target = CE_CASES["small"]
    n, c = logits.shape
    lp = log_softmax_rows(logits)
    for grad, scale in ((1.0, 1.0 / n), (-2.5, 1.0)):
        with on_path(path, "cross_entropy_backward") as (device, _):
            out = fused.cross_entropy_backward(
                array(lp, device, dtype),
                plugrad.tensor(target, device=device).array,
                plugrad.tensor(grad, dtype=dtype, device=device).array,
                scale,
            )
        expected = np.exp(lp.astype(dtype.numpy).astype(np.float64)) - one_hot(target, c)
        np.testing.assert_allclose(f64(out), expected * grad * scale, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_kernel_and_composites_agree(dtype):
    """The same inputs on all three paths give the same results (tighter than the oracle)."""
    logits, target = CE_CASES["wide"]
    results = {}
    for path in PATHS:
        lp, loss = run_cross_entropy(path, logits, target, 1.0 / 3, dtype, "transposed")
        with on_path(path, "cross_entropy_backward") as (device, _):
            grad = fused.cross_entropy_backward(
                NDArray.from_numpy(lp.numpy(), get_device(device)),
                plugrad.tensor(target, device=device).array,
                plugrad.tensor(0.75, dtype=dtype, device=device).array,
                1.0 / 3,
            )
        with on_path(path, "relu_backward") as (device, _):
            relu = fused.relu_backward(
                array(logits, device, dtype, "strided"), array(logits, device, dtype, "transposed")
            )
        results[path] = [f64(lp), f64(loss), f64(grad), f64(relu)]
    for path in (HIDDEN, REFERENCE):
        for ours, theirs in zip(results[KERNEL], results[path]):
            np.testing.assert_allclose(ours, theirs, **tol(dtype))
    np.testing.assert_array_equal(results[KERNEL][3], np.where(logits > 0, logits, 0)
                                  .astype(dtype.numpy))  # fmt: skip


@pytest.mark.parametrize("path", PATHS)
def test_gradients_of_another_dtype(path):
    """A float64 gradient into float32 relu_backward / cross_entropy_backward: the result is
    float32 (the kernels take one dtype; the core converts the gradient first)."""
    y = np.array([[-1.0, 0.0, 0.25, 2.0], [3.0, -0.5, np.nan, 1e-3]])
    grad = np.array([[1.0, 2.0, 1.0 / 3, -4.0], [0.1, 6.0, 7.0, -1.0 / 7]])
    with on_path(path, "relu_backward") as (device, _):
        out = fused.relu_backward(array(grad, device, plugrad.float64),
                                  array(y, device, plugrad.float32))  # fmt: skip
    assert out.dtype is plugrad.float32
    expected = np.where(y.astype(np.float32) <= 0, 0, grad).astype(np.float32)
    np.testing.assert_array_equal(out.numpy(), expected)
    lp = log_softmax_rows(y[:, :2])
    with on_path(path, "cross_entropy_backward") as (device, _):
        out = fused.cross_entropy_backward(
            array(lp, device, plugrad.float32),
            plugrad.tensor([1, 0], device=device).array,
            plugrad.tensor(2.0, dtype=plugrad.float64, device=device).array,
            0.5,
        )
    assert out.dtype is plugrad.float32
    expected = np.exp(lp.astype(np.float32).astype(np.float64)) - one_hot([1, 0], 2)
    np.testing.assert_allclose(f64(out), expected, **tol(plugrad.float32))


@pytest.mark.parametrize("bad", [-1, 7, 100])
@pytest.mark.parametrize("path", PATHS)
def test_cross_entropy_rejects_targets_out_of_range(path, bad):
    logits, target = CE_CASES["small"]
    target = list(target)
    target[-1] = bad
    with pytest.raises(IndexError, match=r"\[0, 7\)"):
        run_cross_entropy(path, logits, target, 1.0, plugrad.float32, "compact")


def test_hidden_kernel_comes_back():
    need("c_cpu")
    backend = get_device("c_cpu").backend
    for name in OPTIONAL_KERNELS:
        bound = getattr(backend, name)
        with kernel_hidden(backend, name):
            assert getattr(backend, name) is None
        assert getattr(backend, name) == bound


# --- end to end: nn.functional.cross_entropy and relu against torch ------------------------

torch_reason = "torch is the test-only oracle; make test installs torch==2.13.0"


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason=torch_reason)


@pytest.fixture(params=DEVICES)
def device(request):
    need(request.param)
    return request.param


@pytest.fixture(params=DTYPES, ids=lambda d: d.name)
def dtype(request):
    return request.param


def torch_dtype(torch, dtype):
    return torch.float64 if dtype is plugrad.float64 else torch.float32


def pair(torch, values, device, dtype):
    """The same leaf in plugrad and in torch, both requiring grad."""
    ours = plugrad.tensor(values, dtype=dtype, device=device, requires_grad=True)
    theirs = torch.tensor(values, dtype=torch_dtype(torch, dtype), requires_grad=True)
    return ours, theirs


def view(x, layout: str):
    """The logits (N, C) made from leaf `x` by a non-contiguous view (same in both libraries)."""
    if layout == "transposed":  # leaf (C, N)
        return x.T
    if layout == "strided":  # leaf (N, 2C)
        return x[:, ::2]
    if layout == "flipped":  # leaf (N, C), rows reversed (a negative stride in plugrad)
        return x.flip(0)
    return x


def leaf_values(logits: np.ndarray, layout: str) -> np.ndarray:
    if layout == "transposed":
        return np.ascontiguousarray(logits.T)
    if layout == "strided":
        return np.repeat(logits, 2, axis=1)
    if layout == "flipped":
        return logits[::-1].copy()
    return logits


def assert_matches(ours, theirs, dtype, **kwargs) -> None:
    expected = theirs.detach().double().numpy()
    np.testing.assert_allclose(f64(ours.detach()), expected, **(kwargs or tol(dtype)))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("layout", ["compact", "transposed", "strided", "flipped"])
@pytest.mark.parametrize("magnitude", [1.0, 300.0])
def test_cross_entropy_matches_torch(torch, device, dtype, reduction, layout, magnitude):
    rng = np.random.default_rng(4)
    logits = rng.uniform(-3, 3, (6, 5)) * magnitude
    target = [0, 4, 2, 2, 1, 3]
    x, tx = pair(torch, leaf_values(logits, layout), device, dtype)
    z, tz = view(x, layout), view(tx, layout)
    if layout != "compact":
        assert not z.array.is_compact()
    loss = F.cross_entropy(z, plugrad.tensor(target, device=device), reduction=reduction)
    tloss = torch.nn.functional.cross_entropy(tz, torch.tensor(target), reduction=reduction)
    assert_matches(loss, tloss, dtype)
    loss.backward()
    tloss.backward()
    assert_matches(x.grad, tx.grad, dtype)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_ignore_index_matches_torch(torch, device, dtype, reduction):
    logits = np.random.default_rng(5).uniform(-3, 3, (5, 4))
    target = [-100, 3, -100, 0, 1]
    x, tx = pair(torch, logits, device, dtype)
    loss = F.cross_entropy(x, plugrad.tensor(target, device=device), reduction=reduction)
    tloss = torch.nn.functional.cross_entropy(tx, torch.tensor(target), reduction=reduction)
    assert_matches(loss, tloss, dtype)
    loss.backward()
    tloss.backward()
    assert_matches(x.grad, tx.grad, dtype)
    np.testing.assert_array_equal(x.grad.numpy()[[0, 2]], 0.0)  # ignored rows


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("bad", [10, 11, -1, -101])
def test_cross_entropy_target_out_of_range(device, reduction, bad):
    """Out of [0, C) and not ignore_index: IndexError naming the range and the value (torch's
    exception type too); nothing is recorded, so the graph stays usable. (torch is not asked
    here: its C++ exception aborts the process under `make test-asan`'s preloaded runtime.)"""
    x = plugrad.zeros(3, 10, device=device, requires_grad=True)
    target = plugrad.tensor([0, bad, 9], device=device)
    with pytest.raises(IndexError, match=rf"\[0, 10\).*got {bad}"):
        F.cross_entropy(x, target, reduction=reduction)
    F.cross_entropy(x, plugrad.tensor([0, 5, 9], device=device), reduction=reduction).backward()
    assert x.grad is not None and x.grad.shape == (3, 10)


def test_relu_gradient_matches_torch_at_zero(torch, device, dtype):
    values = np.array([[-2.0, -0.0, 0.0, 1e-30, 3.0], [0.0, 0.5, -1e-30, 0.0, -7.0]])
    upstream = np.random.default_rng(6).uniform(-2, 2, values.shape)
    x, tx = pair(torch, values, device, dtype)
    g = plugrad.tensor(upstream, dtype=dtype, device=device)
    (x.relu() * g).sum().backward()
    (torch.relu(tx) * torch.tensor(upstream, dtype=tx.dtype)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    assert x.grad.numpy()[0, 2] == 0.0 and x.grad.numpy()[1, 0] == 0.0  # exactly 0 at 0
    # relu of a non-contiguous view, with a broadcast upstream gradient (sum's backward)
    x2, tx2 = pair(torch, np.ascontiguousarray(values.T), device, dtype)
    F.relu(x2.T).sum().backward()
    torch.relu(tx2.T).sum().backward()
    np.testing.assert_array_equal(x2.grad.numpy(), tx2.grad.numpy())
    # create_graph=True takes the differentiable route; the value at 0 is still 0
    x3, tx3 = pair(torch, values, device, dtype)
    (first,) = plugrad.autograd.grad(x3.relu().sum(), x3, create_graph=True)
    (tfirst,) = torch.autograd.grad(torch.relu(tx3).sum(), tx3, create_graph=True)
    np.testing.assert_array_equal(first.detach().numpy(), tfirst.detach().numpy())


def test_mixed_dtype_gradients_match_torch(torch, device):
    """float32 relu and cross_entropy receiving float64 gradients, as torch allows."""
    values = np.array([[-2.0, 0.0, 0.5, 3.0], [1.0, -0.25, 2.0, 0.0]])
    weight = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, 0.25, -1.0, 1.0 / 3]])
    x, tx = pair(torch, values, device, plugrad.float32)
    w = plugrad.tensor(weight, dtype=plugrad.float64, device=device)
    (x.relu() * w).sum().backward()
    (torch.relu(tx) * torch.tensor(weight)).sum().backward()
    assert x.grad.dtype is plugrad.float32
    assert_matches(x.grad, tx.grad, plugrad.float32)
    x, tx = pair(torch, values, device, plugrad.float32)
    loss = F.cross_entropy(x, plugrad.tensor([3, 0], device=device))
    tloss = torch.nn.functional.cross_entropy(tx, torch.tensor([3, 0]))
    loss.backward(plugrad.tensor(2.5, dtype=plugrad.float64, device=device))
    tloss.backward(torch.tensor(2.5, dtype=torch.float64))
    assert x.grad.dtype is plugrad.float32
    assert_matches(x.grad, tx.grad, plugrad.float32)


def test_relu_double_backward_matches_torch(torch, device, dtype):
    values = np.random.default_rng(7).uniform(-2, 2, (4, 5))
    values[np.abs(values) < 0.1] = 0.5  # away from the kink
    x, tx = pair(torch, values, device, dtype)
    r, tr = x.relu(), torch.relu(tx)
    (g,) = plugrad.autograd.grad((r * r * x).sum(), x, create_graph=True)
    (tg,) = torch.autograd.grad((tr * tr * tx).sum(), tx, create_graph=True)
    assert_matches(g, tg, dtype)
    (g * g).sum().backward()
    (tg * tg).sum().backward()
    assert_matches(x.grad, tx.grad, dtype)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_double_backward_matches_torch(torch, device, dtype, reduction):
    """Second derivatives through cross_entropy and relu: grad of sum of squared gradients."""
    values = np.random.default_rng(8).uniform(-2, 2, (6, 4))
    values[np.abs(values) < 0.1] = -0.5
    target = [3, 0, 1, 1, 2, 0]
    x, tx = pair(torch, values, device, dtype)
    z = x.relu() * x + x
    tz = torch.relu(tx) * tx + tx
    loss = F.cross_entropy(z, plugrad.tensor(target, device=device), reduction=reduction)
    tloss = torch.nn.functional.cross_entropy(tz, torch.tensor(target), reduction=reduction)
    (g,) = plugrad.autograd.grad(loss, x, create_graph=True)
    (tg,) = torch.autograd.grad(tloss, tx, create_graph=True)
    assert_matches(g, tg, dtype)
    (g * g).sum().backward()
    (tg * tg).sum().backward()
    assert_matches(x.grad, tx.grad, dtype)
    assert np.abs(f64(x.grad)).max() > 1e-3  # a real second derivative, not zeros


# --- Tensor.add_ / sub_ with alpha (axpy when the target is compact) ------------------------


def spy_axpy(device: str):
    backend = get_device(device).backend
    if getattr(backend, "axpy", None) is None:
        return contextlib.nullcontext(None)
    return kernel_spy(backend, "axpy")


@pytest.mark.parametrize("method", ["add_", "sub_"])
@pytest.mark.parametrize("alpha", [2.5, -0.5, 1.0])
@pytest.mark.parametrize("layout", ["compact", "transposed", "strided", "flipped", "broadcast"])
def test_inplace_alpha_matches_numpy(device, dtype, method, alpha, layout):
    """`other` of the target's shape, any layout (broadcast: an expanded row, stride 0)."""
    rng = np.random.default_rng(9)
    start, other = rng.uniform(-3, 3, (4, 4)), rng.uniform(-3, 3, (4, 4))
    t = plugrad.tensor(start, dtype=dtype, device=device)
    o = plugrad.Tensor._wrap(array(other, device, dtype, layout))
    if layout == "broadcast":
        other = np.broadcast_to(other[:1], other.shape)
    sign = 1.0 if method == "add_" else -1.0
    with spy_axpy(device) as calls:
        assert getattr(t, method)(o, alpha=alpha) is t
    if calls is not None:  # c_cpu: the fused kernel ran unless add_ with alpha 1
        assert len(calls) == (0 if method == "add_" and alpha == 1.0 else 1)
    cast = dtype.numpy
    expected = start.astype(cast) + sign * alpha * other.astype(cast).astype(np.float64)
    np.testing.assert_allclose(f64(t), expected, **tol(dtype))
    np.testing.assert_array_equal(f64(o), other.astype(cast))  # the operand is untouched


@pytest.mark.parametrize("method", ["add_", "sub_"])
def test_inplace_alpha_on_a_non_compact_target(device, dtype, method):
    """A strided target falls back to the general path and writes only its own elements."""
    rng = np.random.default_rng(10)
    base_values, other = rng.uniform(-3, 3, (3, 8)), rng.uniform(-3, 3, (3, 4))
    base = plugrad.tensor(base_values, dtype=dtype, device=device)
    target = base[:, ::2]
    assert not target.array.is_compact()
    with spy_axpy(device) as calls:
        getattr(target, method)(plugrad.tensor(other, dtype=dtype, device=device), alpha=3.0)
    assert not calls
    expected = base_values.astype(dtype.numpy).astype(np.float64)
    expected[:, ::2] += (3.0 if method == "add_" else -3.0) * other.astype(dtype.numpy)
    np.testing.assert_allclose(f64(base), expected, **tol(dtype))
    np.testing.assert_allclose(f64(target), expected[:, ::2], **tol(dtype))


@pytest.mark.parametrize("method", ["add_", "sub_"])
@pytest.mark.parametrize("other_shape", [(4,), (3, 1), (1, 1), ()])
def test_inplace_alpha_with_a_broadcast_other(device, dtype, method, other_shape):
    rng = np.random.default_rng(11)
    start, other = rng.uniform(-3, 3, (3, 4)), rng.uniform(-3, 3, other_shape)
    t = plugrad.tensor(start, dtype=dtype, device=device)
    getattr(t, method)(plugrad.tensor(other, dtype=dtype, device=device), alpha=-1.5)
    sign = 1.0 if method == "add_" else -1.0
    expected = start.astype(dtype.numpy) + sign * -1.5 * other.astype(dtype.numpy)
    np.testing.assert_allclose(f64(t), expected, **tol(dtype))


def test_inplace_alpha_with_a_scalar_and_under_no_grad(device):
    t = plugrad.tensor([1.0, 2.0], device=device)
    t.add_(2.0, alpha=3.0).sub_(1.0, alpha=0.5)
    np.testing.assert_allclose(t.numpy(), [6.5, 7.5])
    w = plugrad.tensor([1.0, 2.0], device=device, requires_grad=True)
    step = plugrad.tensor([0.5, -1.0], device=device)
    with pytest.raises(RuntimeError, match="no_grad"):
        w.sub_(step, alpha=0.1)  # the fused route still refuses while recording
    np.testing.assert_array_equal(w.detach().numpy(), [1.0, 2.0])
    with plugrad.no_grad():
        w.sub_(step, alpha=0.1)
    np.testing.assert_allclose(w.detach().numpy(), [0.95, 2.1], rtol=1e-6)


@pytest.mark.parametrize("method", ["add_", "sub_"])
@pytest.mark.parametrize("alpha", [2.0, 1.0])
def test_inplace_alpha_with_an_overlapping_view(device, method, alpha):
    """self.add_(self.T, alpha): NumPy's `a += alpha * a.T` (the operand read before any write).
    The operand overlaps the target as another view, so it is copied first."""
    values = np.arange(16.0).reshape(4, 4)
    t = plugrad.tensor(values, dtype=plugrad.float64, device=device)
    getattr(t, method)(t.T, alpha=alpha)
    expected = values + (1.0 if method == "add_" else -1.0) * alpha * values.T
    np.testing.assert_allclose(t.numpy(), expected)


# --- softmax / log_softmax: the fused kernels (c_cpu, cuda) and the composite (numpy_ref) ---


@pytest.mark.parametrize("device_name", ["c_cpu", "cuda", "numpy_ref"])
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [-1, 0, 1])
@pytest.mark.parametrize("magnitude", [1.0, 1000.0])
def test_softmax_matches_torch(torch, device_name, dtype, log, dim, magnitude):
    """Values and gradients on 3-D inputs against torch, with rows of -inf (attention's
    masks, and fully masked rows giving NaN as in torch); the kernels run where they exist."""
    need(device_name)
    rng = np.random.default_rng(12)
    values = rng.normal(size=(3, 4, 5)) * magnitude
    values[rng.random(values.shape) < 0.2] = -np.inf
    values[0, 1, :] = -np.inf
    values[2, :, 3] = -np.inf
    upstream = rng.uniform(-2, 2, values.shape)
    backend = get_device(device_name).backend
    name = "log_softmax" if log else "softmax"
    spies = (contextlib.nullcontext(None) if getattr(backend, name, None) is None
             else kernel_spy(backend, name))  # fmt: skip
    x, tx = pair(torch, values, device_name, dtype)
    with spies as calls:
        y = F.log_softmax(x, dim) if log else F.softmax(x, dim)
    if calls is not None:
        assert calls, f"{device_name} did not use its {name} kernel"
    ty = torch.log_softmax(tx, dim) if log else torch.softmax(tx, dim)
    np.testing.assert_array_equal(np.isnan(f64(y.detach())), np.isnan(ty.detach().numpy()))
    assert_matches(y, ty, dtype)
    (y * plugrad.tensor(upstream, dtype=dtype, device=device_name)).sum().backward()
    (ty * torch.tensor(upstream, dtype=ty.dtype)).sum().backward()
    np.testing.assert_allclose(f64(x.grad), tx.grad.double().numpy(), equal_nan=True,
                               **tol(dtype))  # fmt: skip
