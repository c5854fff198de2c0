"""Views in the graph: which tensor a view's memory belongs to, and how its gradient maps.

A view (a slice, a transpose, a reshape without copy, ...) shares its base's memory, so an
in-place write through either changes both. As in torch, every view remembers its root base
(`_base`: the root and the root's history stamp when the view was taken). When the root gets a
new node (a recorded in-place write), the views taken before are stale: the next op that uses
one first makes it a view of the root's new node (`refresh`). A write through a view gives the
root a `CopySlicesView` node: the gradient of the region flows to the written value, the rest
to the root's old node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..ndarray import NDArray
from ..ops import base as _base
from ..ops.base import Op
from .grad_mode import is_grad_enabled
from .history import start_new_identity

if TYPE_CHECKING:
    from .tensor import Tensor

NO_GRAD_VIEW = (
    "a view was made under no_grad() of a tensor that requires grad, and is now written in "
    "place with grad mode on; make the view and the write both inside no_grad() (untracked) "
    "or both outside it (tracked)"
)


def stamp(t: Tensor) -> int:
    """The storage version from which t's current node holds (0 when never rebased)."""
    meta = t._meta
    return 0 if meta is None else meta.since


def track(view: Tensor, source: Tensor) -> None:
    """Record that `view` shares `source`'s memory: its root is source's root."""
    root = source if source._base is None else source._base[0]
    if root.requires_grad and not is_grad_enabled():
        view._base = (root, stamp(root), NO_GRAD_VIEW)
    else:
        view._base = (root, stamp(root))


def root_of(t: Tensor) -> Tensor:
    return t if t._base is None else t._base[0]


def refresh(view: Tensor) -> None:
    """Make a stale view (its root got a new node since) a view of the root's current node."""
    base = view._base
    root = base[0]  # type: ignore[index]
    since = stamp(root)
    if since == base[1]:  # type: ignore[index]
        return
    if root.requires_grad:
        start_new_identity(view, since)
        view._op = ViewOf(ViewLayout(root.array, view.array))
        view._inputs = (root,)
        view._versions = (since, view.array.version[0])
        view.requires_grad = True
    view._base = (root, since) + tuple(base[2:])  # type: ignore[index]


class ViewLayout:
    """Where a view's elements sit in its root, as flat row-major indices of the root."""

    def __init__(self, root: NDArray, view: NDArray) -> None:
        self.root_shape = root.shape
        self.view_shape = view.shape
        self._root = (root.shape, root.strides, root.offset)
        self._view = (view.shape, view.strides, view.offset)
        self.device = root.device
        self._index: NDArray | None = None
        self._keep: NDArray | None = None

    def flat_index(self) -> NDArray:
        """int64 of the view's shape flattened: the root element each view element is."""
        if self._index is None:
            view_pos = _positions(*self._view).reshape(-1)
            shape, strides, offset = self._root
            if strides == _compact(shape):
                flat = view_pos - offset
            else:
                root_pos = _positions(shape, strides, offset).reshape(-1)
                order = np.argsort(root_pos, kind="stable")
                ranked = root_pos[order]
                at = np.searchsorted(ranked, view_pos).clip(0, max(len(ranked) - 1, 0))
                if len(ranked) == 0 or np.any(ranked[at] != view_pos):
                    raise RuntimeError("a view reaches memory outside its base tensor")
                flat = order[at]
            self._index = NDArray.from_numpy(flat.astype(np.int64), self.device)
        return self._index

    def outside(self) -> NDArray:
        """bool of the root's shape: True where no view element lies."""
        if self._keep is None:
            keep = np.ones(int(np.prod(self.root_shape, dtype=np.int64)), dtype=bool)
            keep[self.flat_index().numpy()] = False
            self._keep = NDArray.from_numpy(keep.reshape(self.root_shape), self.device)
        return self._keep


def _compact(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(step)
        step *= max(d, 1)
    return tuple(reversed(strides))


def _positions(shape: tuple[int, ...], strides: tuple[int, ...], offset: int) -> np.ndarray:
    """Buffer position of every element of a strided layout, int64 of `shape`."""
    pos = np.full(shape, offset, dtype=np.int64)
    for axis, (d, s) in enumerate(zip(shape, strides)):
        step = np.arange(d, dtype=np.int64) * s
        pos += step.reshape((d,) + (1,) * (len(shape) - axis - 1))
    return pos


def _tensor(array: NDArray) -> Tensor:
    return _base._tensor_class._wrap(array)


class ViewOf(Op):
    """A view of the root's current node (a refreshed view); its gradient scatters back."""

    saved = ()

    def __init__(self, layout: ViewLayout) -> None:
        self.layout = layout

    @property
    def name(self) -> str:
        return "view"

    def compute(self, root: NDArray) -> NDArray:
        index = self.layout.flat_index()
        flat = root.compact().reshape(-1)
        out = NDArray.empty(index.shape, root.dtype, root.device)
        root.backend.gather(flat.strided(), 0, index.strided(), out.strided())
        return out.reshape(self.layout.view_shape)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        from ..ops.gather import ScatterAdd

        layout = self.layout
        size = int(np.prod(layout.root_shape, dtype=np.int64))
        index = _tensor(layout.flat_index())
        return ScatterAdd(0, (size,), checked=True)(index, g.reshape(-1)).reshape(layout.root_shape)


class CopySlicesView(Op):
    """The root after a write through one of its views: inputs (the root before, the view's
    new values). The region's gradient goes to the values, the rest to the old root."""

    saved = ()

    def __init__(self, layout: ViewLayout) -> None:
        self.layout = layout

    @property
    def name(self) -> str:
        return "copy_slices"

    def compute(self, old: NDArray, values: NDArray) -> NDArray:
        index = self.layout.flat_index()
        out = old.copy()
        flat = out.reshape(-1)
        cleared = NDArray.where(self.layout.outside().reshape(-1), flat, 0.0)
        src = values.astype(old.dtype).reshape(-1)
        out.backend.scatter_add(cleared.strided(), 0, index.strided(), src.strided())
        return cleared.reshape(old.shape)

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor, Tensor]:
        from ..autograd.tensor import where
        from ..ops.gather import Gather

        layout = self.layout
        old, values = node._inputs
        keep = _tensor(layout.outside())
        to_old = where(keep, g, 0.0) if old.requires_grad else None
        picked = Gather(0, checked=True)(g.reshape(-1), _tensor(layout.flat_index()))
        to_values = picked.reshape(layout.view_shape).astype(values.dtype)
        return to_old, to_values  # type: ignore[return-value]
