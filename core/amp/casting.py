"""`autocast_op(name)`: the one place where autocast casts an op's inputs.

    @autocast_op("linear")
    def linear(input, weight, bias=None): ...

Outside autocast the wrapper costs one global read. Inside a region that covers the inputs'
device, an op of the "lower" list gets its floating inputs (float16, bfloat16, float32; never
float64, as torch) cast to the region's dtype, an op of the "fp32" list gets them cast to
float32 (a banned op raises, naming the safe form), and the body runs with autocasting
suppressed, so the ops it is made of keep the dtypes it chose. The casts are graph nodes:
gradients flow back through them and reach each input in its own dtype (a float32 parameter
gets a float32 .grad).

With cache_enabled, a float32 leaf that requires grad (a parameter) is cast once per
outermost region and the cast reused by every op that reads it, as torch caches weights.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from .. import dtypes as dt
from . import policy, state

# The tensor class and grad mode are read when a region is active, not imported here: the
# autograd modules import this one to decorate their ops.

F = TypeVar("F", bound=Callable[..., Any])


def autocast_op(name: str) -> Callable[[F], F]:
    """Mark a function as the autocast op `name` (a name of `policy`'s lists)."""
    if name not in policy.KNOWN:
        raise ValueError(f"autocast_op({name!r}): not in plugrad.amp.policy's lists")

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not state.active or state.local.suppressed:
                return fn(*args, **kwargs)
            return _autocast_call(name, fn, args, kwargs)

        wrapper.__autocast_op__ = name  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _autocast_call(name: str, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    from ..autograd.grad_mode import is_grad_enabled
    from ..ops.base import _tensor_class

    first = _first_tensor(_tensor_class, args, kwargs)
    region = None if first is None else state.region_for(first.device)
    if region is None or not region.enabled:
        return fn(*args, **kwargs)
    lists = policy.kind_of(first.device.is_host)
    kind = policy.category(name, lists)
    if kind is None:
        return fn(*args, **kwargs)
    if kind == "banned":
        raise RuntimeError(f"{name} under autocast: {policy.BANNED[lists][name]}")
    target = region.dtype if kind == "lower" else dt.float32
    cast = _Caster(_tensor_class, region, target, is_grad_enabled())
    args = tuple(cast(a) for a in args)
    kwargs = {k: cast(v) for k, v in kwargs.items()}
    state.local.suppressed += 1
    try:
        return fn(*args, **kwargs)
    finally:
        state.local.suppressed -= 1


def _first_tensor(tensor: type, args: tuple, kwargs: dict) -> Any:
    for value in (*args, *kwargs.values()):
        if isinstance(value, tensor):
            return value
        if type(value) in (list, tuple):  # plain sequences only: named tuples keep their type
            for item in value:
                if isinstance(item, tensor):
                    return item
    return None


class _Caster:
    """Casts one argument (a tensor, or a list or tuple of them) for a region and dtype."""

    def __init__(self, tensor: type, region: state.Region, target: dt.DType, grad: bool) -> None:
        self.tensor, self.region, self.target, self.grad = tensor, region, target, grad

    def __call__(self, value: Any) -> Any:
        if isinstance(value, self.tensor):
            return self._tensor(value)
        if type(value) in (list, tuple) and any(isinstance(v, self.tensor) for v in value):
            return type(value)(self(v) for v in value)
        return value

    def _tensor(self, t: Any) -> Any:
        dtype = t.dtype
        if dtype is self.target or not dtype.is_floating or dtype is dt.float64:
            return t
        if state.region_for(t.device) is not self.region:  # another device's region, or none
            return t
        declared = t.device.backend.dtypes
        if self.target.name not in declared:
            raise TypeError(
                f"autocast({self.region.device_type!r}, dtype={self.region.dtype.name}) reached "
                f"a tensor on {t.device.name}, which does not hold {self.target.name} (it holds "
                f"{', '.join(declared)}); autocast that device's type with a dtype it holds, or "
                "move the tensor to a device that holds it"
            )
        if not (self.region.cache_enabled and _cacheable(t, self.target)):
            return t.astype(self.target)
        key = (id(t), t._version, self.target, self.grad)
        hit = state.local.cache.get(key)
        if hit is None:
            hit = state.local.cache[key] = (t, t.astype(self.target))  # t kept: its id stays
        return hit[1]


def _cacheable(t: Any, target: dt.DType) -> bool:
    """torch's rule: a float32 leaf that requires grad and is not a view, cast down."""
    return (
        t.dtype is dt.float32
        and target is not dt.float32
        and t.requires_grad
        and t.is_leaf
        and t._base is None
    )
