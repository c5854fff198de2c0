"""plugrad: a backend-pluggable array, autograd and neural-network library.

import plugrad
x = plugrad.randn(3, 4, requires_grad=True)
y = (x.relu() ** 2).sum()
y.backward()
x.grad                     # a Tensor of shape (3, 4)
x.to("numpy_ref")          # move between installed devices
"""

from __future__ import annotations

import builtins
import inspect
from typing import Any

from . import (
    amp,  # plugrad.amp: autocast, GradScaler, as torch.amp
    dtypes,
    random,  # plugrad.random: Generator, fork_rng, ... as torch.random
    random_stream,  # the stream's specification and NumPy reference
    viz,  # noqa: E402,I001 - plugrad.viz.to_dot
)
from .amp import autocast, get_autocast_dtype, is_autocast_enabled
from .autograd import (
    Function,
    enable_grad,
    grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .autograd.tensor import (
    Tensor,
    cat,
    chunk,
    conv2d,
    gather,
    matmul,
    one_hot,
    pad,
    scatter_add,
    split,
    stack,
    where,
)
from .backend import (
    BackendUnavailable,
    Device,
    available_devices,
    device,
    empty_cache,
    get_default_device,
    max_memory_allocated,
    max_memory_reserved,
    memory_allocated,
    memory_reserved,
    memory_stats,
    register_backend,
    reset_accumulated_memory_stats,
    reset_max_memory_allocated,
    reset_peak_memory_stats,
    set_default_device,
    unregister_backend,
)
from .backend.registry import iter_devices
from .dtypes import (
    DType,
    bfloat16,
    bool_,
    finfo,
    float16,
    float32,
    float64,
    iinfo,
    int8,
    int16,
    int32,
    int64,
    uint8,
)
from .factory import (
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_dlpack,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .printing import set_printoptions
from .random import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from .scalar import Scalar
from .serialization import CheckpointError, load, save

__version__ = "0.1.0"

bool = bool_  # noqa: A001 - torch's spelling: plugrad.bool
float = float32  # noqa: A001
double = float64
long = int64
half = float16
int = int32  # noqa: A001 - torch's spelling: plugrad.int is int32
short = int16


def _method(name: str) -> Any:
    def function(input: Tensor, *args: Any, **kwargs: Any) -> Any:  # noqa: A002 - torch's name
        return getattr(input, name)(*args, **kwargs)

    method = inspect.signature(getattr(Tensor, name))
    first = inspect.Parameter("input", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    function.__signature__ = method.replace(  # type: ignore[attr-defined]
        parameters=[first, *list(method.parameters.values())[1:]]
    )
    function.__name__ = name
    function.__doc__ = f"plugrad.{name}(input, ...) is input.{name}(...)"
    return function


# Functional spellings of Tensor methods: plugrad.exp(x), plugrad.sum(x, dim=1), ...
for _name in (
    "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "gelu", "sin", "cos", "erf", "sign",
    "floor", "ceil", "neg", "clamp", "clip", "maximum", "minimum", "sum", "mean", "var", "std",
    "max", "min", "amax", "amin", "argmax", "argmin", "prod", "logsumexp", "softmax",
    "log_softmax", "reshape", "permute", "transpose", "flatten", "squeeze", "unsqueeze", "flip",
    "broadcast_to", "square", "all", "any", "equal", "logical_not", "rsqrt", "bitwise_and",
    "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift",
):  # fmt: skip
    globals()[_name] = _method(_name)
del _name


def set_num_threads(n: int) -> None:
    """Threads for every loaded backend that uses them (also PLUGRAD_NUM_THREADS)."""
    # plugrad.int is the int32 dtype here (torch's spelling), so the builtin is named in full
    if not isinstance(n, builtins.int) or isinstance(n, builtins.bool) or n < 1:
        raise ValueError(f"number of threads must be a positive integer, got {n!r}")
    for dev in iter_devices():
        setter = getattr(dev.backend, "set_num_threads", None)
        if setter is not None:
            setter(n)


def get_num_threads() -> int:
    """Threads of the default device's backend (1 if it does not use threads)."""
    getter = getattr(get_default_device().backend, "get_num_threads", None)
    return getter() if getter is not None else 1


def synchronize(on: object = None) -> None:
    """Wait for the device's queued work (a no-op on synchronous backends)."""
    from .backend import get_device

    get_device(on).backend.synchronize()


def is_tensor(obj: object) -> bool:
    return isinstance(obj, Tensor)


from . import api  # noqa: E402 - the method families register themselves on import

globals().update(api.FUNCTIONS)

# subpackages, as torch.nn / torch.optim / torch.utils; array_api is x.__array_namespace__()
from . import array_api, data, nn, optim, utils  # noqa: E402
