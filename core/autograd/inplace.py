"""In-place writes in the graph, as torch records them.

`t.op_(...)`, `t += x` and `t[key] = v` write into t's memory. Every such write bumps the
storage's version counter. When grad mode is on and the target or the written value requires
grad, the write is also recorded: the new value is computed out of place by the differentiable
op (`fn(t, ...)`), written into t's memory, and t takes over the new node while its old node
moves into a snapshot that the nodes recorded earlier still reach (`history.py`). A write
through a view gives the view's root a CopySlicesView node (`views.py`). Writing a value that
requires grad into a tensor that does not makes the target require grad (torch's CopySlices).
Writes autograd cannot record raise, as in torch: a leaf that requires grad (or a view of one),
and a target whose elements share memory (a stride-0 view).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..indexing import IndexPlan
from ..ndarray import NDArray
from ..ops.base import Op, unbroadcast
from ..ops.shape import AdvancedIndex, BasicIndex
from . import views
from .grad_mode import is_grad_enabled, no_grad
from .history import start_new_identity

if TYPE_CHECKING:
    from .tensor import Tensor

LEAF = (
    "a leaf tensor that requires grad is being used in an in-place operation; wrap the update "
    "in `with plugrad.no_grad():` (as optimizers do), or write into a .clone()"
)
LEAF_VIEW = (
    "a view of a leaf tensor that requires grad is being used in an in-place operation; wrap "
    "the update in `with plugrad.no_grad():`, or write into a .clone()"
)


def bump(t: Tensor) -> int:
    """Count one in-place write to t's storage; returns the new version."""
    counter = t.array.version
    counter[0] += 1
    return counter[0]


def check_writable(t: Tensor) -> None:
    """Refuse a target whose elements share memory: the result would depend on the order."""
    array = t.array
    if not array.is_compact() and any(s == 0 and d > 1 for s, d in zip(array.strides, array.shape)):
        raise RuntimeError(
            f"unsupported in-place write: the target (shape {t.shape}, strides "
            f"{array.strides}) is a broadcast view whose elements share one memory location; "
            "write into a .clone() (or .contiguous()) of it"
        )


def records(t: Tensor, args: tuple = ()) -> bool:
    """Whether an in-place write into t with these arguments is recorded in the graph."""
    if not is_grad_enabled():
        return False
    if t.requires_grad or (t._base is not None and t._base[0].requires_grad):
        return True
    return any(getattr(a, "requires_grad", False) for a in args)


def _check_target(t: Tensor) -> None:
    if t._base is None:
        if t._op is None and t.requires_grad:
            raise RuntimeError(LEAF)
        return
    root = t._base[0]
    if root._op is None and root.requires_grad:
        raise RuntimeError(LEAF_VIEW)
    if len(t._base) > 2:
        raise RuntimeError(t._base[2])


def apply(t: Tensor, fn: Callable[..., Tensor], *args: Any) -> Tensor:
    """Write `fn(t, *args)` into t's memory, recorded in the graph when it has to be."""
    check_writable(t)
    if not records(t, args):
        with no_grad():
            result = fn(t, *args)
        t.array.assign_(_fit(result, t).array)
        bump(t)
        return t
    _check_target(t)
    if t._base is not None:
        views.refresh(t)
    result = _fit(fn(t, *args), t)
    _keep_saved_originals(result, t)
    t.array.assign_(result.array)
    version = bump(t)
    in_graph = t.requires_grad or (t._base is not None and t._base[0].requires_grad)
    if not (in_graph or result.requires_grad):
        return t
    if t._base is None:
        _become(t, result, version, args)
    else:
        _write_through_view(t, result, version)
    return t


def inplace_method(fn: Callable[..., Tensor], name: str) -> Callable[..., Tensor]:
    """`t.name_(...)`: fn(t, ...) written into t (recorded when needed)."""

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return apply(self, functools.partial(fn, **kwargs) if kwargs else fn, *args)

    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = f"In-place {name}: `t.{name}_(...)` writes `t.{name}(...)` into t."
    return method


def setitem(t: Tensor, key: tuple, value: Any) -> None:
    """`t[key] = value` (key already normalised: NDArrays for index tensors)."""
    from .tensor import Tensor, _to_ndarray

    check_writable(t)
    basic = _is_basic(key)
    if isinstance(value, Tensor):
        source: Any = value.array
    elif isinstance(value, (list, tuple)) or hasattr(value, "__array__"):
        value = Tensor._wrap(_to_ndarray(value, t.dtype, t.device))
        source = value.array
    else:
        source = value
    if not records(t, (value,)):
        _write(t.array, key, basic, source)
        bump(t)
        return
    _check_target(t)
    plan = None if basic else IndexPlan(t.shape, key, t.device)
    put = IndexWrite(key, plan, None if isinstance(value, Tensor) else value)
    if t._base is not None:  # a write into a view: out of place, then through the view
        if isinstance(value, Tensor):
            apply(t, put, value)
        else:
            apply(t, put)
        return
    _write(t.array, key, basic, source, plan)
    version = bump(t)
    old = start_new_identity(t, version)
    t._op = put
    if isinstance(value, Tensor):
        t._inputs = (old, value)
        t._versions = (version - 1, value.array.version[0], version)
    else:
        t._inputs = (old,)
        t._versions = (version - 1, version)
    t.requires_grad = True


def _is_basic(key: tuple) -> bool:
    from ..indexing import is_basic

    return is_basic(key)


def _write(
    target: NDArray, key: tuple, basic: bool, source: Any, plan: IndexPlan | None = None
) -> None:
    if basic:
        target.slice_view(key).assign_(source)
    else:
        (plan or IndexPlan(target.shape, key, target.device)).assign(target, source)


def _fit(result: Tensor, t: Tensor) -> Tensor:
    """result cast to t's dtype and broadcast to t's shape (both differentiable)."""
    if result.dtype is not t.dtype:
        result = result.astype(t.dtype)
    if result.shape != t.shape:
        try:
            result = result.broadcast_to(t.shape)
        except ValueError:
            raise RuntimeError(
                f"an in-place result of shape {result.shape} does not fit the target of shape "
                f"{t.shape}; use the out-of-place form"
            ) from None
    return result


def _keep_saved_originals(result: Tensor, t: Tensor) -> None:
    """If result's op saved t's values (mul_, pow_, clamp_...), give it a copy taken before the
    write instead, so its gradient sees the original values."""
    op = result._op
    if op is None or op.saved == ():
        return
    saved = op.saved if op.saved is not None else range(len(result._inputs))
    inputs = list(result._inputs)
    versions = list(result._versions)
    changed = False
    for i in saved:
        if i >= 0 and inputs[i] is t:
            copy = t.clone()
            inputs[i], versions[i] = copy, copy.array.version[0]
            changed = True
    if changed:
        result._inputs, result._versions = tuple(inputs), tuple(versions)


def _fresh(result: Tensor, t: Tensor, args: tuple) -> bool:
    """True when result is a node made by the write's own op, so t can take it over."""
    return (
        result._op is not None
        and result._base is None
        and result is not t
        and all(result is not a for a in args)
    )


def _become(t: Tensor, result: Tensor, version: int, args: tuple) -> None:
    """t (not a view) takes the node of its new value; its old node goes to a snapshot."""
    old = start_new_identity(t, version)
    if _fresh(result, t, args):
        t._op, t._inputs = result._op, result._inputs
        t._versions = result._versions[:-1] + (version,)
    elif not old.requires_grad:  # a value that requires grad written into a constant
        t._op, t._inputs = Identity(), (result,)
        t._versions = (result.array.version[0], version)
    elif result.requires_grad:  # copy_: the old value gets a zero gradient, as in torch
        t._op, t._inputs = Overwritten(), (old, result)
        t._versions = (version - 1, result.array.version[0], version)
    else:  # the new value depends on nothing that requires grad (fill_, zero_)
        t._op, t._inputs = Overwritten(), (old,)
        t._versions = (version - 1, version)
    t.requires_grad = True


def _write_through_view(view: Tensor, result: Tensor, version: int) -> None:
    """The view's root takes a CopySlicesView node; the view becomes a view of it."""
    root = view._base[0]  # type: ignore[index]
    layout = views.ViewLayout(root.array, view.array)
    old_root = start_new_identity(root, version)
    root._op = views.CopySlicesView(layout)
    root._inputs = (old_root, result)
    root._versions = (version - 1, result.array.version[0], version)
    root.requires_grad = True
    views.refresh(view)


class Identity(Op):
    """The target of a write that holds exactly the written value (copy_ of a tensor)."""

    saved = ()

    @property
    def name(self) -> str:
        return "copy"

    def compute(self, x: NDArray) -> NDArray:
        return x

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        return g


class Overwritten(Op):
    """The target of a write that replaced its old value: inputs (old,) for a constant
    (fill_, zero_) or (old, value) for copy_. The old value gets a zero gradient."""

    saved = ()

    @property
    def name(self) -> str:
        return "overwrite"

    def compute(self, old: NDArray, value: NDArray | None = None) -> NDArray:
        if value is None:
            return NDArray.full(old.shape, 0, old.dtype, old.device)
        return value.astype(old.dtype).broadcast_to(old.shape).copy()

    def gradient(self, g: Tensor, node: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        zeros = g._wrap(NDArray.full(g.shape, 0, g.dtype, g.device))
        return zeros if len(node._inputs) == 1 else (zeros, g)


class IndexWrite(Op):
    """`x` with `x[key] = value`, out of place: inputs (x, value) or (x,) for a Python scalar.
    The region's gradient goes to value (summed over broadcasting), the rest to x."""

    saved = ()

    def __init__(self, key: tuple, plan: IndexPlan | None, scalar: Any = None) -> None:
        self.key, self.plan, self.scalar = key, plan, scalar

    @property
    def name(self) -> str:
        return "setitem"

    def compute(self, x: NDArray, value: NDArray | None = None) -> NDArray:
        out = x.copy()
        _write(out, self.key, self.plan is None, self.scalar if value is None else value, self.plan)
        return out

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor | None, ...]:
        inputs = node._inputs
        to_x = ZeroRegion(self.key, self.plan)(g) if inputs[0].requires_grad else None
        if len(inputs) == 1:
            return (to_x,)
        value = inputs[1]
        if not value.requires_grad:
            return to_x, None
        picked = BasicIndex(self.key)(g) if self.plan is None else AdvancedIndex(self.plan)(g)
        return to_x, unbroadcast(picked, value.shape).astype(value.dtype)


class ZeroRegion(Op):
    """x with x[key] = 0 (out of place): the gradient of what a write replaced."""

    saved = ()

    def __init__(self, key: tuple, plan: IndexPlan | None) -> None:
        self.key, self.plan = key, plan

    def compute(self, x: NDArray) -> NDArray:
        out = x.copy()
        _write(out, self.key, self.plan is None, 0, self.plan)
        return out

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        return ZeroRegion(self.key, self.plan)(g)
