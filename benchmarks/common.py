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

import operator
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

Runner = Callable[[], object]

# Sizes (issues 4's and 13's targets use these; keep them in step with the README table).
ELEMENTWISE_N = 16 * 1024 * 1024  # 16M float32 elements, 64 MiB per array
REDUCE_N = 4096  # 4096 x 4096 float32
SORT_SHAPE = (1024, 4096)  # float32 rows to sort
MATMUL_SIZES = (256, 1024, 2048)
CONV_INPUT = (32, 64, 32, 32)  # N, C, H, W
CONV_FILTERS = (128, 64, 3, 3)  # out channels, in channels, kH, kW; padding 1
TINY_SHAPE = (8,)
DIGITS_SAMPLES, DIGITS_FEATURES, DIGITS_CLASSES = 1797, 64, 10
BATCH = 64
MLP_HIDDEN = 128
TRANSFORMER_SHAPE = (8, 32, 64)  # batch, sequence, model width
TRANSFORMER_HEADS = 4
LEARNING_RATE = 0.05
# The digits demo (plugrad.demo): its CNN, batch size, AdamW and cosine schedule, one epoch of
# its training split (1797 images less the 20% held out: 1438).
DEMO_TRAIN_SAMPLES = 1438
DEMO_BATCH = 32
DEMO_LR, DEMO_WEIGHT_DECAY, DEMO_EPOCHS = 1e-2, 1e-4, 10
# An LSTM language-model-sized step: (sequence, batch, input), hidden width, layers.
LSTM_SHAPE = (35, 32, 128)
LSTM_HIDDEN, LSTM_LAYERS = 256, 2
# Elementwise and matmul in each floating dtype c_cpu holds (16-bit: stored 16-bit, computed
# in float32), for the ratio to float32.
DTYPE_ELEMENTWISE_N = 4 * 1024 * 1024
DTYPE_MATMUL_N = 1024
FLOAT_DTYPES = ("float32", "float16", "bfloat16")


class SlowBenchmark:
    """asv settings for benchmarks of long single calls: a few samples in one round, no warm-up
    (it keeps the full, non --quick, run of the suite within minutes)."""

    rounds = 1
    repeat = (1, 5, 10.0)  # min samples, max samples, max seconds
    warmup_time = 0.0
    timeout = 300


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
        return _nothing
    return partial(sync, device)


def _nothing() -> None:
    return None


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _random(shape, rng) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


def _inputs(
    lib: str, device: str | None, arrays, requires_grad: bool = False, dtype: str = "float32"
):
    """The NumPy `arrays` as `lib`'s arrays or tensors (in `dtype`: float32, float16 or
    bfloat16, rounded from the float32 values), and the call that waits for `lib`."""
    if lib == "numpy":
        if requires_grad:
            raise NotImplementedError("NumPy has no autograd")
        if dtype == "bfloat16":
            raise NotImplementedError("NumPy has no bfloat16")
        return [a.astype(dtype) for a in arrays], _nothing
    if lib == "torch":
        torch = _torch()
        tensors = [torch.from_numpy(a).to(getattr(torch, dtype)) for a in arrays]
        return [t.requires_grad_(requires_grad) for t in tensors], _nothing
    plugrad = require("tensor")
    try:
        tensors = [
            plugrad.tensor(a, dtype=dtype, device=device, requires_grad=requires_grad)
            for a in arrays
        ]
    except (TypeError, ValueError, NotImplementedError) as exc:  # a dtype the device lacks
        raise NotImplementedError(f"{dtype} on {device}: {exc}") from exc
    return tensors, _syncer(plugrad, device)


# --------------------------------------------------------------------------------------------
# Array workloads: one expression for the three libraries, on the same inputs


def _exp(t):
    return np.exp(t) if isinstance(t, np.ndarray) else t.exp()


ELEMENTWISE_OPS = {"add": (2, operator.add), "exp": (1, _exp)}  # op: (arity, function)


def elementwise(
    lib: str,
    device: str | None = None,
    op: str = "add",
    n: int = ELEMENTWISE_N,
    dtype: str = "float32",
):
    """`add` of two n-element arrays (float32 unless `dtype`), or the unary `exp` of one."""
    arity, fn = ELEMENTWISE_OPS[op]
    rng = _rng()
    arrays = [_random(n, rng) for _ in range(arity)]
    args, sync = _inputs(lib, device, arrays, dtype=dtype)
    return lambda: (fn(*args), sync())


def reduction(lib: str, device: str | None = None, axis: int | None = 0, n: int = REDUCE_N):
    """Sum of an n x n float32 matrix over `axis` (None: all axes)."""
    (x,), sync = _inputs(lib, device, [_random((n, n), _rng())])
    if axis is None:
        return lambda: (x.sum(), sync())
    return lambda: (x.sum(axis=axis), sync())  # torch takes axis= as well as dim=


def sort_rows(lib: str, device: str | None = None, axis: int = -1, shape=SORT_SHAPE):
    """Stable sort of a float32 matrix along `axis` (values and positions)."""
    (x,), sync = _inputs(lib, device, [_random(shape, _rng())])
    if lib == "numpy":
        return lambda: (np.argsort(x, axis=axis, kind="stable"), np.sort(x, axis, kind="stable"))
    if lib == "torch":
        return lambda: x.sort(dim=axis, stable=True)
    return lambda: (x.sort(axis), sync())


def cumulative_sum(lib: str, device: str | None = None, axis: int = 0, n: int = REDUCE_N):
    """cumsum of an n x n float32 matrix along `axis`."""
    (x,), sync = _inputs(lib, device, [_random((n, n), _rng())])
    if lib == "numpy":
        return lambda: np.cumsum(x, axis=axis)
    return lambda: (x.cumsum(axis), sync())


def matmul(lib: str, device: str | None = None, n: int = 1024, dtype: str = "float32"):
    """(n x n) @ (n x n), float32 unless `dtype`."""
    rng = _rng()
    arrays = [_random((n, n), rng), _random((n, n), rng)]
    (x, y), sync = _inputs(lib, device, arrays, dtype=dtype)
    return lambda: (x @ y, sync())


def conv2d(lib: str, device: str | None = None, backward: bool = False):
    """conv2d of a 32x64x32x32 input with 128 3x3 filters, padding 1; with `backward`, also the
    gradients of out.sum() with respect to the input and the filters."""
    if lib == "numpy":
        raise NotImplementedError("conv2d has no NumPy peer")
    if lib == "torch":
        conv = _torch().nn.functional.conv2d
    else:
        conv = getattr(require("tensor"), "conv2d", None)
        if conv is None:
            conv = require("nn.functional.conv2d").nn.functional.conv2d
    rng = _rng()
    arrays = [_random(CONV_INPUT, rng), _random(CONV_FILTERS, rng) * np.float32(0.05)]
    (x, w), sync = _inputs(lib, device, arrays, requires_grad=backward)
    if backward:
        return lambda: (conv(x, w, padding=1).sum().backward(), sync())
    return lambda: (conv(x, w, padding=1), sync())


def tiny_op(lib: str, device: str | None = None, mode: str = "nograd"):
    """Per-op overhead: `x + y` on 8-element float32 tensors.

    mode "nograd": plain tensors; "grad": inputs require grad, so the op records a graph node;
    "backward": that op, then `.sum().backward()` through it.
    """
    rng = _rng()
    arrays = [_random(TINY_SHAPE, rng), _random(TINY_SHAPE, rng)]
    (x, y), _ = _inputs(lib, device, arrays, requires_grad=mode != "nograd")
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


def _mlp(lib, nn):
    return nn.Sequential(
        nn.Linear(DIGITS_FEATURES, MLP_HIDDEN),
        nn.ReLU(),
        nn.Linear(MLP_HIDDEN, DIGITS_CLASSES),
    )


def _cnn(lib, nn):
    # On 8x8 digit images: two 3x3 convolutions, then a linear classifier.
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(32 * 8 * 8, DIGITS_CLASSES),
    )


def _transformer(lib, nn):
    """A pre-norm transformer block: multi-head self-attention and a GELU MLP, written with
    the torch-like API that torch and plugrad share (`lib` is either module)."""
    d, heads = TRANSFORMER_SHAPE[2], TRANSFORMER_HEADS

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.ff1, self.act, self.ff2 = nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d)

        def forward(self, x):
            b, t, _ = x.shape
            qkv = self.qkv(self.ln1(x)).reshape(b, t, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            att = lib.softmax(q @ k.transpose(-2, -1) * (d // heads) ** -0.5, dim=-1)
            x = x + self.proj((att @ v).permute(0, 2, 1, 3).reshape(b, t, d))
            return x + self.ff2(self.act(self.ff1(self.ln2(x))))

    return Block()


def _digits_cnn(lib, nn):
    """The digits demo's CNN: plugrad's own `plugrad.demo.build_model("cnn")`, and the same
    layers in torch (the same parameter and buffer names, so weights copy across)."""
    if lib.__name__ == "plugrad":
        try:
            from plugrad.demo import build_model
        except Exception as exc:
            raise NotImplementedError(f"plugrad.demo.build_model is missing: {exc!r}") from exc
        return build_model("cnn")
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.1), nn.Linear(64 * 2 * 2, 10),
    )  # fmt: skip


def _lstm(lib, nn, shape=None, hidden=None, layers=None):
    """nn.LSTM over (sequence, batch, input), its outputs (sequence, batch, hidden); the sizes
    default to LSTM_SHAPE, LSTM_HIDDEN and LSTM_LAYERS."""
    shape, hidden = shape or LSTM_SHAPE, hidden or LSTM_HIDDEN
    layers = layers or LSTM_LAYERS

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(shape[2], hidden, num_layers=layers)

        def forward(self, x):
            return self.lstm(x)[0]

    return Net()


@dataclass(frozen=True)
class Model:
    """A training workload's model: `build(lib, nn, **sizes)`, its loss (a class name in nn),
    what plugrad needs for it, and the optimizer ("sgd": SGD at LEARNING_RATE; "demo": the
    digits demo's AdamW with its cosine schedule, stepped every batch)."""

    build: Callable
    loss: str
    needs: tuple[str, ...]
    optimizer: str = "sgd"


MODELS = {
    "mlp": Model(_mlp, "CrossEntropyLoss", ("nn.Sequential", "nn.Linear", "nn.ReLU")),
    "cnn": Model(
        _cnn,
        "CrossEntropyLoss",
        ("nn.Sequential", "nn.Linear", "nn.ReLU", "nn.Conv2d", "nn.Flatten"),
    ),
    "digits_cnn": Model(
        _digits_cnn,
        "CrossEntropyLoss",
        ("nn.Conv2d", "nn.BatchNorm2d", "nn.MaxPool2d", "nn.Unflatten", "optim.AdamW"),
        "demo",
    ),
    "transformer": Model(
        _transformer, "MSELoss", ("softmax", "nn.Module", "nn.Linear", "nn.LayerNorm", "nn.GELU")
    ),
    "lstm": Model(_lstm, "MSELoss", ("nn.Module", "nn.LSTM")),
}


def _training_batches(model: str, steps: int | None, sizes: dict):
    rng = _rng()
    if model == "transformer":  # random sequences regressed onto random targets
        return [
            (_random(TRANSFORMER_SHAPE, rng), _random(TRANSFORMER_SHAPE, rng))
            for _ in range(steps or 1)
        ]
    if model == "lstm":
        shape = sizes.get("shape") or LSTM_SHAPE
        out = (*shape[:2], sizes.get("hidden") or LSTM_HIDDEN)
        return [(_random(shape, rng), _random(out, rng)) for _ in range(steps or 1)]
    x, y = digits_data()
    if model == "digits_cnn":
        return _batches(x[:DEMO_TRAIN_SAMPLES], y[:DEMO_TRAIN_SAMPLES], DEMO_BATCH)[:steps]
    if model == "cnn":
        x = x.reshape(-1, 1, 8, 8)
    return _batches(x, y)[:steps]


def shared_weights(names_and_shapes) -> dict[str, np.ndarray]:
    """Initial weights drawn with NumPy, the same for plugrad and torch (the peers then start
    from identical weights): matrices and filters uniform in +-1/sqrt(fan_in), 1-D weights
    (norm scales) 1 + uniform(+-0.1), biases uniform(+-0.1). Drawn in name order."""
    rng = np.random.default_rng(1234)
    out = {}
    for name, shape in sorted(names_and_shapes):
        if len(shape) >= 2:
            bound = 1.0 / np.sqrt(np.prod(shape[1:]))
            value = rng.uniform(-bound, bound, shape)
        else:
            value = rng.uniform(-0.1, 0.1, shape) + (1.0 if name.endswith("weight") else 0.0)
        out[name] = value.astype(np.float32)
    return out


class Trainer:
    """A training workload, built for `lib` ("plugrad" or "torch") on `device`: the model with
    `shared_weights`, its optimizer, loss and batches (on the device before timing starts).
    Calling it runs every batch once (a step each) and waits for the device; `step` runs one
    batch and returns its loss. `dtype` "float64" trains in float64 (the oracle tests);
    `dropout=False` sets every Dropout's probability to 0 (so both libraries compute the same
    thing); `sizes` go to the model's builder (the LSTM's shape, hidden width and layers)."""

    def __init__(
        self,
        lib: str,
        device: str | None = None,
        model: str = "mlp",
        steps: int | None = None,
        dtype: str = "float32",
        dropout: bool = True,
        **sizes,
    ) -> None:
        spec = MODELS[model]
        batches = _training_batches(model, steps, sizes)
        if lib == "numpy":
            raise NotImplementedError("NumPy has no training peer")
        if lib == "torch":
            mod = _torch()
            mod.manual_seed(0)
            self.net = spec.build(mod, mod.nn, **sizes)
            self.sync = _nothing

            def as_tensor(a):
                return mod.from_numpy(a)

        else:
            mod = require("tensor", *spec.needs, f"nn.{spec.loss}", "optim.SGD")
            if spec.optimizer == "demo":
                require("optim.lr_scheduler.CosineAnnealingLR")
            if hasattr(mod, "manual_seed"):
                mod.manual_seed(0)
            with mod.device(device):
                self.net = spec.build(mod, mod.nn, **sizes)
            self.sync = _syncer(mod, device)

            def as_tensor(a):
                return mod.tensor(a, device=device)

        if hasattr(self.net, "to") and lib == "plugrad":
            self.net = self.net.to(device) or self.net
        shapes = [(n, tuple(p.shape)) for n, p in self.net.named_parameters()]
        weights = {n: as_tensor(w) for n, w in shared_weights(shapes).items()}
        self.net.load_state_dict(weights, strict=False)
        if dtype == "float64":
            self.net.double()
        if not dropout:
            for m in self.net.modules():
                if type(m).__name__ == "Dropout":
                    m.p = 0.0
        params = list(self.net.parameters())
        self.schedule = None
        if spec.optimizer == "demo":
            self.opt = mod.optim.AdamW(params, lr=DEMO_LR, weight_decay=DEMO_WEIGHT_DECAY)
            self.schedule = mod.optim.lr_scheduler.CosineAnnealingLR(
                self.opt, T_max=DEMO_EPOCHS * len(batches)
            )
        else:
            self.opt = mod.optim.SGD(params, lr=LEARNING_RATE)
        self.loss_fn = getattr(mod.nn, spec.loss)()

        def convert(a):
            return as_tensor(a.astype(dtype) if a.dtype == np.float32 else a)

        self.data = [(convert(xb), convert(yb)) for xb, yb in batches]

    def step(self, xb, yb):
        loss = self.loss_fn(self.net(xb), yb)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        if self.schedule is not None:
            self.schedule.step()
        return loss

    def __call__(self) -> None:
        for xb, yb in self.data:
            self.step(xb, yb)
        self.sync()


def training(lib: str, device: str | None = None, model: str = "mlp", steps: int | None = None):
    """Training steps, data on the device before timing starts. "mlp" and "cnn": digits-
    sized data, batch 64, cross-entropy, SGD; one epoch (29 batches) when `steps` is None, else
    that many batches. "digits_cnn": the digits demo's CNN, batch 32, AdamW and its cosine
    schedule, an epoch of 45 batches. "transformer": `steps` (default 1) batches of 8
    sequences of 32 x 64, MSE, SGD. "lstm": `steps` (default 1) batches of 32 sequences of 35
    x 128 through a 2-layer LSTM of width 256, MSE on its outputs, SGD."""
    return Trainer(lib, device, model, steps)


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


def format_seconds(seconds: float) -> str:
    """`12.3 ms`, `4.56 us`: three significant digits in a unit that suits."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


SETTLE_SECONDS = 0.15


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
            # Thread pools spin-wait after their work (OpenBLAS for about 0.1 s, OpenMP
            # briefly): let the previous runner's pool go quiet so it does not steal cores.
            time.sleep(SETTLE_SECONDS)
            samples[name].append(timer.sample())
        if budget is not None and time.perf_counter() - start > budget:
            break
    return samples


def median_ratio(
    ours: Runner, peer: Runner, repeats: int = 3, budget: float | None = None
) -> float:
    """median time of `ours` / median time of `peer`, measured interleaved in this process."""
    samples = interleaved({"ours": ours, "peer": peer}, repeats, budget)
    return statistics.median(samples["ours"]) / statistics.median(samples["peer"])


@dataclass(frozen=True)
class Target:
    """A performance target (issue 4's; for conv2d, the transformer, CNN and LSTM issue 13's):
    plugrad time / `peer` time must be at most `max_ratio`."""

    peer: str
    max_ratio: float
    text: str


@dataclass(frozen=True)
class Case:
    """A workload of the peers report and the ratio benchmarks: `build(lib, device)` makes its
    runner (see the builders above); `peers` are the libraries it is compared with."""

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
    Case("sort_rows", "stable sort, 1024 rows of 4096 float32", sort_rows, ("numpy", "torch")),
    Case(
        "sort_axis0",
        "stable sort along axis 0, 1024x4096 float32",
        partial(sort_rows, axis=0),
        ("numpy", "torch"),
    ),
    Case(
        "cumsum_axis0",
        "cumsum axis 0, 4096x4096 float32",
        partial(cumulative_sum, axis=0),
        ("numpy", "torch"),
    ),
    Case(
        "cumsum_axis1",
        "cumsum axis 1, 4096x4096 float32",
        partial(cumulative_sum, axis=1),
        ("numpy", "torch"),
    ),
    Case(
        "conv2d_fwd_bwd",
        "conv2d fwd+bwd 32x64x32x32, 128 3x3, pad 1",
        partial(conv2d, backward=True),
        ("torch",),
        Target("torch", 1.0, "at most torch's time"),
    ),
    Case(
        "mlp_epoch",
        "digits MLP 64-128-10, 1 epoch SGD, batch 64",
        partial(training, model="mlp"),
        ("torch",),
        Target("torch", 1.5, "at most 1.5x torch's time"),
    ),
    Case(
        "transformer_step",
        "transformer block 8x32x64, 4 heads: 1 SGD step",
        partial(training, model="transformer"),
        ("torch",),
        Target("torch", 1.2, "at most 1.2x torch's time"),
    ),
    Case(
        "cnn_epoch",
        "digits demo CNN, 1 epoch AdamW, batch 32 (45 batches)",
        partial(training, model="digits_cnn"),
        ("torch",),
        Target("torch", 1.2, "at most 1.2x torch's time"),
    ),
    Case(
        "lstm_step",
        "LSTM 2 layers 128->256, 35x32: 1 SGD step",
        partial(training, model="lstm"),
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
