"""Workloads shared by the asv suites and the peers report (`benchmarks/tools/compare.py`).

Every builder takes `lib` ("plugrad", "numpy" or "torch") and, for plugrad, a device name, does
its setup (inputs made once from the same NumPy arrays for every library) and returns a
zero-argument callable that runs the measured work once and waits for it to finish.

A builder raises NotImplementedError when the plugrad API it needs is not there yet (or torch is
not installed): asv records that as a skipped benchmark and the report prints it as "n/a", so
the suite runs on any commit and fills in as the API lands. torch is imported lazily, only by
torch builders: plugrad's own timings and `peakmem_` results never include it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

Runner = Callable[[], object]

# Sizes (issue 4's targets use these; keep them in step with the README table).
ELEMENTWISE_N = 16 * 1024 * 1024  # 16M float32 elements, 64 MiB per array
REDUCE_N = 4096  # 4096 x 4096 float32
MATMUL_SIZES = (256, 1024, 2048)
CONV_INPUT = (32, 64, 32, 32)  # N, C, H, W
CONV_FILTERS = (128, 64, 3, 3)  # out channels, in channels, kH, kW; padding 1
TINY_SHAPE = (8,)
DIGITS_SAMPLES, DIGITS_FEATURES, DIGITS_CLASSES = 1797, 64, 10
BATCH = 64
MLP_HIDDEN = 128
LEARNING_RATE = 0.05


# --------------------------------------------------------------------------------------------
# plugrad access: everything goes through these, so a missing API is a skip, not a crash.


def _plugrad():
    try:
        import plugrad
    except Exception as exc:  # a broken commit must still let the suite load
        raise NotImplementedError(f"import plugrad failed: {exc!r}") from exc
    return plugrad


def require(*names: str):
    """Return the plugrad module, or raise NotImplementedError naming the first missing
    attribute among dotted `names` (e.g. "nn.Linear", "optim.SGD")."""
    plugrad = _plugrad()
    for dotted in names:
        obj = plugrad
        for part in dotted.split("."):
            if not hasattr(obj, part):
                # Subpackages such as plugrad.nn may need an explicit import.
                try:
                    __import__(f"{obj.__name__}.{part}")
                except Exception:
                    raise NotImplementedError(f"plugrad.{dotted} is not available yet") from None
            obj = getattr(obj, part, None)
            if obj is None:
                raise NotImplementedError(f"plugrad.{dotted} is not available yet")
    return plugrad


def devices() -> list[str]:
    """The plugrad devices to benchmark (asv parameter values). Never empty, never raises."""
    try:
        from plugrad.backend import available_devices

        names = list(available_devices())
    except Exception:
        names = []
    return names or ["none"]


def _torch():
    try:
        import torch
    except Exception as exc:
        raise NotImplementedError(f"torch is not installed: {exc!r}") from exc
    return torch


def _syncer(plugrad, device: str) -> Callable[[], None]:
    sync = getattr(plugrad, "synchronize", None)
    if sync is None:
        return lambda: None
    return partial(sync, device)


def _to_plugrad(plugrad, array: np.ndarray, device: str, requires_grad: bool = False):
    return plugrad.tensor(array, device=device, requires_grad=requires_grad)


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _random(shape, rng=None) -> np.ndarray:
    rng = rng if rng is not None else _rng()
    return rng.standard_normal(shape, dtype=np.float32)


# --------------------------------------------------------------------------------------------
# Array workloads


def elementwise(lib: str, device: str | None = None, op: str = "add", n: int = ELEMENTWISE_N):
    """`add` of two n-element float32 arrays, or the unary `exp` of one."""
    rng = _rng()
    a, b = _random(n, rng), _random(n, rng)
    if lib == "numpy":
        return (lambda: np.add(a, b)) if op == "add" else (lambda: np.exp(a))
    if lib == "torch":
        torch = _torch()
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        return (lambda: torch.add(ta, tb)) if op == "add" else (lambda: torch.exp(ta))
    plugrad = require("tensor")
    x, y = _to_plugrad(plugrad, a, device), _to_plugrad(plugrad, b, device)
    sync = _syncer(plugrad, device)
    if op == "add":
        return lambda: (x + y, sync())
    if not hasattr(x, op):
        raise NotImplementedError(f"plugrad.Tensor.{op} is not available yet")
    unary = getattr(type(x), op)
    return lambda: (unary(x), sync())


def reduction(lib: str, device: str | None = None, axis: int | None = 0, n: int = REDUCE_N):
    """Sum of an n x n float32 matrix over `axis` (None: all axes)."""
    a = _random((n, n))
    if lib == "numpy":
        return lambda: a.sum(axis=axis)
    if lib == "torch":
        ta = _torch().from_numpy(a)
        return (lambda: ta.sum()) if axis is None else (lambda: ta.sum(dim=axis))
    plugrad = require("tensor")
    x = _to_plugrad(plugrad, a, device)
    sync = _syncer(plugrad, device)
    if axis is None:
        return lambda: (x.sum(), sync())
    return lambda: (x.sum(axis=axis), sync())


def matmul(lib: str, device: str | None = None, n: int = 1024):
    """float32 (n x n) @ (n x n)."""
    rng = _rng()
    a, b = _random((n, n), rng), _random((n, n), rng)
    if lib == "numpy":
        return lambda: a @ b
    if lib == "torch":
        torch = _torch()
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        return lambda: ta @ tb
    plugrad = require("tensor")
    x, y = _to_plugrad(plugrad, a, device), _to_plugrad(plugrad, b, device)
    sync = _syncer(plugrad, device)
    return lambda: (x @ y, sync())


def _plugrad_conv2d(plugrad):
    conv = getattr(plugrad, "conv2d", None)
    if conv is None:
        try:
            from plugrad.nn import functional

            conv = functional.conv2d
        except Exception:
            raise NotImplementedError("plugrad.conv2d is not available yet") from None
    return conv


def conv2d(lib: str, device: str | None = None, backward: bool = False):
    """conv2d of a 32x64x32x32 input with 128 3x3 filters, padding 1; with `backward`, also the
    gradients of out.sum() with respect to the input and the filters."""
    rng = _rng()
    a, k = _random(CONV_INPUT, rng), _random(CONV_FILTERS, rng) * np.float32(0.05)
    if lib == "numpy":
        raise NotImplementedError("conv2d has no NumPy peer")
    if lib == "torch":
        torch = _torch()
        F = torch.nn.functional
        x = torch.from_numpy(a).requires_grad_(backward)
        w = torch.from_numpy(k).requires_grad_(backward)
        if not backward:
            return lambda: F.conv2d(x, w, padding=1)
        return lambda: F.conv2d(x, w, padding=1).sum().backward()
    plugrad = require("tensor")
    conv = _plugrad_conv2d(plugrad)
    x = _to_plugrad(plugrad, a, device, requires_grad=backward)
    w = _to_plugrad(plugrad, k, device, requires_grad=backward)
    sync = _syncer(plugrad, device)
    if not backward:
        no_grad = getattr(plugrad, "no_grad", None)

        def forward():
            if no_grad is None:
                return conv(x, w, padding=1), sync()
            with no_grad():
                return conv(x, w, padding=1), sync()

        return forward
    return lambda: (conv(x, w, padding=1).sum().backward(), sync())


def tiny_op(lib: str, device: str | None = None, mode: str = "nograd"):
    """Per-op overhead: `x + y` on 8-element float32 tensors.

    mode "nograd": plain tensors; "grad": inputs require grad, so the op records a graph node;
    "backward": that op, then `.sum().backward()` through it.
    """
    rng = _rng()
    a, b = _random(TINY_SHAPE, rng), _random(TINY_SHAPE, rng)
    grad = mode != "nograd"
    if lib == "numpy":
        if grad:
            raise NotImplementedError("NumPy has no autograd")
        return lambda: a + b
    if lib == "torch":
        torch = _torch()
        x = torch.from_numpy(a).requires_grad_(grad)
        y = torch.from_numpy(b).requires_grad_(grad)
    else:
        plugrad = require("tensor")
        x = _to_plugrad(plugrad, a, device, requires_grad=grad)
        y = _to_plugrad(plugrad, b, device, requires_grad=grad)
    if mode == "backward":
        return lambda: (x + y).sum().backward()
    return lambda: x + y


# --------------------------------------------------------------------------------------------
# Training workloads


def digits_data() -> tuple[np.ndarray, np.ndarray]:
    """Data of the digits set's shape: 1797 samples of 64 features in [0, 1), 10 classes.
    Random rather than scikit-learn's copy: the timings do not depend on the values, and
    importing scikit-learn would inflate the peakmem_ benchmarks."""
    rng = _rng()
    x = rng.random((DIGITS_SAMPLES, DIGITS_FEATURES), dtype=np.float32)
    y = rng.integers(0, DIGITS_CLASSES, DIGITS_SAMPLES).astype(np.int64)
    return x, y


def _batches(x: np.ndarray, y: np.ndarray, batch: int = BATCH):
    return [(x[i : i + batch], y[i : i + batch]) for i in range(0, len(x), batch)]


def _mlp(nn):
    return nn.Sequential(
        nn.Linear(DIGITS_FEATURES, MLP_HIDDEN),
        nn.ReLU(),
        nn.Linear(MLP_HIDDEN, DIGITS_CLASSES),
    )


def _cnn(nn):
    # On 8x8 digit images: two 3x3 convolutions, then a linear classifier.
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(32 * 8 * 8, DIGITS_CLASSES),
    )


_MODEL_NEEDS = {
    "mlp": ("tensor", "nn.Sequential", "nn.Linear", "nn.ReLU"),
    "cnn": ("tensor", "nn.Sequential", "nn.Linear", "nn.ReLU", "nn.Conv2d", "nn.Flatten"),
}


def training(lib: str, device: str | None = None, model: str = "mlp", steps: int | None = None):
    """SGD training on digits-sized data, batch 64, cross-entropy loss: one epoch (29 batches)
    when `steps` is None, else that many batches. Data is on the device before timing starts.
    """
    x, y = digits_data()
    if model == "cnn":
        x = x.reshape(-1, 1, 8, 8)
    batches = _batches(x, y)
    if steps is not None:
        batches = batches[:steps]
    build = _mlp if model == "mlp" else _cnn
    if lib == "numpy":
        raise NotImplementedError("NumPy has no training peer")
    if lib == "torch":
        torch = _torch()
        torch.manual_seed(0)
        net = build(torch.nn)
        opt = torch.optim.SGD(net.parameters(), lr=LEARNING_RATE)
        loss_fn = torch.nn.CrossEntropyLoss()
        data = [(torch.from_numpy(xb), torch.from_numpy(yb)) for xb, yb in batches]
        sync = lambda: None  # noqa: E731
    else:
        plugrad = require(*_MODEL_NEEDS[model], "nn.CrossEntropyLoss", "optim.SGD")
        if hasattr(plugrad, "manual_seed"):
            plugrad.manual_seed(0)
        with plugrad.device(device):
            net = build(plugrad.nn)
            if hasattr(net, "to"):
                net = net.to(device) or net
            opt = plugrad.optim.SGD(net.parameters(), lr=LEARNING_RATE)
            loss_fn = plugrad.nn.CrossEntropyLoss()
            data = [
                (plugrad.tensor(xb, device=device), plugrad.tensor(yb, device=device))
                for xb, yb in batches
            ]
        sync = _syncer(plugrad, device)

    def run():
        for xb, yb in data:
            loss = loss_fn(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sync()

    return run


# --------------------------------------------------------------------------------------------
# Timing and the cases the ratio benchmarks and the peers report share


class Timer:
    """Times one workload: a warm-up call that also calibrates how many calls one sample loops
    (enough to last `min_time`, so microsecond ops are measured over many calls)."""

    def __init__(self, fn: Runner, min_time: float = 0.02) -> None:
        self.fn = fn
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        self.number = 1
        while elapsed < min_time and self.number < 1 << 20:
            self.number *= max(2, min(10, int(min_time / max(elapsed, 1e-9))))
            elapsed = self._loop()

    def _loop(self) -> float:
        fn = self.fn
        start = time.perf_counter()
        for _ in range(self.number):
            fn()
        return time.perf_counter() - start

    def sample(self) -> float:
        """Seconds per call."""
        return self._loop() / self.number


def interleaved(
    runners: dict[str, Runner], repeats: int, budget: float | None = None
) -> dict[str, list[float]]:
    """Per-call seconds of each runner, `repeats` samples each, taken round-robin so that noise
    from other work on the machine spreads over all of them alike. With `budget` (seconds),
    rounds stop once that much time has gone by (at least one round is always taken)."""
    start = time.perf_counter()
    timers = {name: Timer(fn) for name, fn in runners.items()}
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, timer in timers.items():
            samples[name].append(timer.sample())
        if budget is not None and time.perf_counter() - start > budget:
            break
    return samples


def median_ratio(ours: Runner, peer: Runner, repeats: int = 3, budget: float | None = None):
    """median time of `ours` / median time of `peer`, measured interleaved in this process."""
    samples = interleaved({"ours": ours, "peer": peer}, repeats, budget)
    return statistics.median(samples["ours"]) / statistics.median(samples["peer"])


@dataclass(frozen=True)
class Target:
    """An issue-4 performance target: plugrad time / `peer` time must be at most `max_ratio`."""

    peer: str
    max_ratio: float
    text: str


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    build: Callable[..., Runner]
    peers: tuple[str, ...]
    target: Target | None = None


CASES: tuple[Case, ...] = (
    Case(
        "matmul_1024",
        "matmul float32 1024x1024",
        partial(matmul, n=1024),
        ("numpy", "torch"),
        Target("numpy", 1.0, "at least NumPy's throughput"),
    ),
    Case(
        "matmul_2048",
        "matmul float32 2048x2048",
        partial(matmul, n=2048),
        ("numpy", "torch"),
        Target("numpy", 1.0, "at least NumPy's throughput"),
    ),
    Case(
        "add_16M",
        "add, two 16M float32",
        partial(elementwise, op="add"),
        ("numpy", "torch"),
        Target("numpy", 1 / 1.5, "at least 1.5x NumPy"),
    ),
    Case("exp_16M", "exp, 16M float32", partial(elementwise, op="exp"), ("numpy", "torch")),
    Case(
        "sum_axis0",
        "sum axis 0, 4096x4096 float32",
        partial(reduction, axis=0),
        ("numpy", "torch"),
        Target("numpy", 1.0, "at least NumPy"),
    ),
    Case(
        "sum_axis1",
        "sum axis 1, 4096x4096 float32",
        partial(reduction, axis=1),
        ("numpy", "torch"),
        Target("numpy", 1.0, "at least NumPy"),
    ),
    Case(
        "sum_all", "sum all, 4096x4096 float32", partial(reduction, axis=None), ("numpy", "torch")
    ),
    Case(
        "conv2d_fwd_bwd",
        "conv2d fwd+bwd 32x64x32x32, 128 3x3, pad 1",
        partial(conv2d, backward=True),
        ("torch",),
        Target("torch", 2.0, "at most 2x torch's time"),
    ),
    Case(
        "mlp_epoch",
        "digits MLP 64-128-10, 1 epoch SGD, batch 64",
        partial(training, model="mlp"),
        ("torch",),
        Target("torch", 1.5, "at most 1.5x torch's time"),
    ),
    Case(
        "tiny_add", "per-op overhead: tiny add", partial(tiny_op, mode="nograd"), ("numpy", "torch")
    ),
    Case(
        "tiny_add_grad",
        "per-op overhead: tiny add, autograd",
        partial(tiny_op, mode="grad"),
        ("torch",),
    ),
)

CASE_BY_KEY = {case.key: case for case in CASES}


def cases_with_peer(peer: str) -> list[str]:
    return [case.key for case in CASES if peer in case.peers]
