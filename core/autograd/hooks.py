"""Hooks on tensors and on groups of tensors, each removable through its handle.

- `t.register_hook(fn)`: fn(grad) runs when t's gradient is complete and may return a
  replacement; hooks run in registration order.
- `t.register_post_accumulate_grad_hook(fn)`: fn(t) runs after a leaf's .grad was updated.
- `join(tensors, on_backward)`: the same tensors as new graph nodes that meet in one node, so
  that `on_backward(grads)` sees the gradients of all of them at once and may replace them
  (what nn.Module's full backward hooks are built on).

Hooks run in the thread that runs backward, so backwards in several threads may run one hook
at the same time (as in torch): a hook that updates shared state takes its own lock. The
accumulation into .grad itself is atomic (Tensor._accumulate_grad holds a lock).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..ndarray import NDArray
from ..ops.base import Op
from .grad_mode import is_grad_enabled
from .history import meta_of

if TYPE_CHECKING:
    from .tensor import Tensor

_ids = itertools.count()


class RemovableHandle:
    """What registering a hook returns: `handle.remove()` (or `with handle:`) removes it."""

    def __init__(self, *registries: dict) -> None:
        self.id = next(_ids)
        self._registries = registries

    def remove(self) -> None:
        for registry in self._registries:
            registry.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def add_hook(registry: dict, fn: Callable, prepend: bool = False) -> RemovableHandle:
    """Put fn into an ordered registry (first or last) and return its handle."""
    handle = RemovableHandle(registry)
    registry[handle.id] = fn
    if prepend:
        items = list(registry.items())
        registry.clear()
        registry[handle.id] = fn
        registry.update(items[:-1])
    return handle


def register_hook(t: Tensor, fn: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
    if not t.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that does not require grad")
    meta = meta_of(t)
    if meta.hooks is None:
        meta.hooks = {}
    return add_hook(meta.hooks, fn)


def register_post_accumulate_grad_hook(t: Tensor, fn: Callable[[Tensor], None]) -> RemovableHandle:
    if not t.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that does not require grad")
    if t._op is not None:
        raise RuntimeError(
            "post-accumulate-grad hooks can only be registered on leaf tensors (those with "
            "requires_grad=True made by the user); use register_hook on this one"
        )
    meta = meta_of(t)
    if meta.post_hooks is None:
        meta.post_hooks = {}
    return add_hook(meta.post_hooks, fn)


def run_tensor_hooks(hooks: dict, grad: Tensor) -> Tensor:
    """Each hook in turn; one may return a replacement of the gradient's shape, dtype and
    device (torch refuses a hook that changes any of them)."""
    for fn in list(hooks.values()):
        replaced = fn(grad)
        if replaced is not None:
            same = (
                getattr(replaced, "shape", None) == grad.shape
                and getattr(replaced, "dtype", None) is grad.dtype
                and getattr(replaced, "device", None) is grad.device
            )
            if not same:
                name = getattr(fn, "__name__", type(fn).__name__)
                got = (
                    f"shape {replaced.shape}, {replaced.dtype.name} on {replaced.device.name}"
                    if hasattr(replaced, "array")
                    else type(replaced).__name__
                )
                raise RuntimeError(
                    f"the tensor hook {name!r} returned {got}; it must return None or a tensor "
                    f"like the gradient: shape {grad.shape}, {grad.dtype.name} on "
                    f"{grad.device.name}"
                )
            grad = replaced
    return grad


# --- join: several tensors whose gradients are handled together --------------------------
class Slots:
    """Gradients of a join's members by position; adding two merges them (the engine sums the
    contributions a node receives)."""

    __slots__ = ("grads",)

    def __init__(self, grads: dict[int, Tensor]) -> None:
        self.grads = grads

    def __add__(self, other: Slots) -> Slots:
        merged = dict(self.grads)
        for i, g in other.grads.items():
            merged[i] = merged[i] + g if i in merged else g
        return Slots(merged)


class _Join(Op):
    """The meeting node: its inputs are the original tensors; its gradient is on_backward's."""

    saved = ()

    def __init__(self, count: int, on_backward: Callable[[tuple], Sequence | None]) -> None:
        self.count, self.on_backward = count, on_backward

    @property
    def name(self) -> str:
        return "hook"

    def compute(self, *arrays: NDArray) -> NDArray:
        return NDArray.empty((0,), arrays[0].dtype, arrays[0].device)

    def gradient(self, g: Any, node: Tensor) -> tuple[Tensor | None, ...]:
        grads = tuple(g.grads.get(i) for i in range(self.count))
        replaced = self.on_backward(grads)
        if replaced is None:
            return grads
        replaced = tuple(replaced) if isinstance(replaced, (tuple, list)) else (replaced,)
        if len(replaced) != self.count:
            raise RuntimeError(
                f"a backward hook returned {len(replaced)} gradients for {self.count} tensors"
            )
        return replaced


class _Member(Op):
    """One joined tensor again: the same memory, its gradient delivered to the join."""

    saved = ()

    def __init__(self, position: int) -> None:
        self.position = position

    @property
    def name(self) -> str:
        return "hook"

    def compute(self, joined: NDArray) -> NDArray:
        raise RuntimeError("a join member is made by join(), not computed")

    def gradient(self, g: Tensor, node: Tensor) -> Any:
        return Slots({self.position: g})


FORBID_INPLACE = (
    "this tensor passed through a module's backward hook; writing it in place would bypass the "
    "hook. Write into a .clone() instead"
)


def join(
    tensors: Sequence[Tensor], on_backward: Callable[[tuple], Sequence | None]
) -> list[Tensor]:
    """The tensors again (same memory), meeting in one graph node. Once backward has the
    gradients of all of them, `on_backward(grads)` runs (None for a member without one); it
    may return replacements. Tensors that do not require grad are returned unchanged."""
    from .tensor import Tensor

    positions = [i for i, t in enumerate(tensors) if t.requires_grad]
    if not positions or not is_grad_enabled():
        return list(tensors)
    members = [tensors[i] for i in positions]

    def deliver(grads: tuple) -> Sequence | None:
        full: list = [None] * len(tensors)
        for i, g in zip(positions, grads):
            full[i] = g
        replaced = on_backward(tuple(full))
        if replaced is None:
            return None
        replaced = tuple(replaced) if isinstance(replaced, (tuple, list)) else (replaced,)
        return tuple(replaced[i] for i in positions)

    node = _Join(len(members), deliver)(*members)
    out = list(tensors)
    for k, i in enumerate(positions):
        source = tensors[i]
        member = Tensor._from_op(source.array, _Member(k), (node,))
        root = source if source._base is None else source._base[0]
        member._base = (root, root._meta.since if root._meta else 0, FORBID_INPLACE)
        out[i] = member
    return out
