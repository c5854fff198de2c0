"""Indexing with integer arrays and boolean masks, lowered onto gather and scatter_add.

`IndexPlan(shape, key, device)` reads a NumPy-style key once: a basic view (ints, slices, None,
Ellipsis), then the advanced dimensions moved together and flattened to one axis of length A
so that the lookup is `gather(x3, axis=1, index)` on an array viewed as (P, A, Q). The same
plan gives the gradient (scatter_add) and the assignment `x[key] = value`.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import dtypes as dt
from .backend.registry import Device
from .ndarray import NDArray
from .shapes import broadcast_shapes, prod, view_strides_for_reshape


def normalize_key(key: object) -> tuple:
    return key if isinstance(key, tuple) else (key,)


def _is_array_like(item: object) -> bool:
    return isinstance(item, (NDArray, np.ndarray, list, bool, np.bool_))


def _is_integer(item: object) -> bool:
    return isinstance(item, (numbers.Integral, np.integer)) and not isinstance(item, bool)


def is_basic(key: tuple) -> bool:
    """True when every entry is an int, a slice, None or Ellipsis (a pure view)."""
    for item in key:
        if item is None or item is Ellipsis or isinstance(item, slice):
            continue
        if isinstance(item, (bool, np.bool_)):
            return False
        if isinstance(item, (numbers.Integral, np.integer)):
            continue
        return False
    return True


def _as_index_array(item: object, device: Device) -> NDArray:
    if isinstance(item, NDArray):
        array = item
    else:
        host = np.asarray(item)
        if host.dtype.kind not in "biu" and not (host.size == 0 and host.dtype.kind == "f"):
            raise IndexError(
                f"only integers, slices, None, Ellipsis and integer or boolean arrays are valid "
                f"indices (got an array of {host.dtype})"
            )
        array = NDArray.from_numpy(
            host.astype(np.bool_ if host.dtype == bool else np.int64), device
        )
    if array.device is not device:
        raise RuntimeError(
            f"index is on device {array.device.name} but the array is on {device.name}; "
            "move the index with .to()"
        )
    if array.dtype.is_floating:
        raise IndexError(f"index arrays must be integer or bool, got {array.dtype.name}")
    if array.dtype is not dt.bool_ and array.dtype is not dt.int64:
        array = array.astype(dt.int64)  # int8 .. int32 and uint8 index as torch's do
    return array


class IndexPlan:
    """How to read or write `x[key]` for an x of `shape` when the key has arrays in it."""

    def __init__(self, shape: tuple[int, ...], key: tuple, device: Device) -> None:
        self.shape = shape
        self.device = device
        items = []
        for k in key:
            if _is_array_like(k):
                items.append(_as_index_array(k, device))
            elif k is None or k is Ellipsis or isinstance(k, slice) or _is_integer(k):
                items.append(k)
            else:
                raise IndexError(
                    f"only integers, slices, None, Ellipsis and integer or boolean arrays are "
                    f"valid indices, got {type(k).__name__}"
                )
        items = _expand_ellipsis_masks(items, len(shape))
        # Replace each advanced entry by full slices and note the view dims it indexes.
        basic: list = []
        advanced: list[tuple[int, NDArray]] = []
        view_dim = 0
        for k in items:
            if k is None:
                basic.append(None)
                view_dim += 1
            elif isinstance(k, slice):
                basic.append(k)
                view_dim += 1
            elif isinstance(k, NDArray) and k.dtype is dt.bool_ and k.ndim == 0:
                # x[True] adds a dimension of 1, x[False] one of 0 (NumPy's rule)
                basic.append(None)
                hits = np.zeros(int(bool(k.item())), np.int64)
                advanced.append((view_dim, NDArray.from_numpy(hits, device)))
                view_dim += 1
            elif isinstance(k, NDArray) and k.dtype is dt.bool_:
                axis = sum(1 for b in basic if b is not None)
                dims = shape[axis : axis + k.ndim]
                if tuple(dims) != k.shape:
                    raise IndexError(
                        f"boolean mask of shape {k.shape} does not match the indexed "
                        f"dimensions {tuple(dims)} of an array of shape {shape}"
                    )
                for positions in np.nonzero(k.numpy()):
                    basic.append(slice(None))
                    advanced.append(
                        (view_dim, NDArray.from_numpy(positions.astype(np.int64), device))
                    )
                    view_dim += 1
            elif isinstance(k, NDArray):
                basic.append(slice(None))
                advanced.append((view_dim, k))
                view_dim += 1
            else:  # an int beside arrays acts as a 0-d index array (NumPy's rule)
                basic.append(slice(None))
                advanced.append((view_dim, NDArray.full((), int(k), dt.int64, device)))
                view_dim += 1
        self.basic_key = tuple(basic)
        view_shape = _basic_shape(shape, self.basic_key)
        self.view_shape = view_shape
        adv_dims = [d for d, _ in advanced]
        self.index_shape = broadcast_shapes(*(a.shape for _, a in advanced))
        adjacent = adv_dims == list(range(adv_dims[0], adv_dims[0] + len(adv_dims)))
        rest = [d for d in range(len(view_shape)) if d not in adv_dims]
        q = adv_dims[0] if adjacent else 0
        self.perm = tuple(rest[:q] + adv_dims + rest[q:])
        self.pre = tuple(view_shape[d] for d in rest[:q])
        self.post = tuple(view_shape[d] for d in rest[q:])
        self.adv_shape = tuple(view_shape[d] for d in adv_dims)
        self.result_shape = self.pre + self.index_shape + self.post
        # Linear position within the flattened advanced dims, bounds checked once.
        linear = None
        step = 1
        for (dim, index), size in reversed(list(zip(advanced, self.adv_shape))):
            index = _checked(index, size, dim)
            term = index if step == 1 else index.scalar_op("mul", step)
            linear = term if linear is None else linear.binary("add", term)
            step *= size
        count = prod(self.index_shape)
        self.linear = linear.broadcast_to(self.index_shape).compact().reshape(count)  # type: ignore[union-attr]
        self.p, self.a, self.q = prod(self.pre), prod(self.adv_shape), prod(self.post)

    def _index3(self) -> NDArray:
        count = self.linear.shape[0]
        return self.linear._view(
            (self.p, count, self.q), (0, self.linear.strides[0], 0), self.linear.offset
        )

    def _region(self, x: NDArray) -> NDArray:
        """x's indexed dims as (P, A, Q), a view when strides allow."""
        return x.slice_view(self.basic_key).permute(self.perm).reshape(self.p, self.a, self.q)

    def gather(self, x: NDArray) -> NDArray:
        """x[key]."""
        index = self._index3()
        out = NDArray.empty(index.shape, x.dtype, x.device)
        x.backend.gather(self._region(x).strided(), 1, index.strided(), out.strided())
        return out.reshape(self.result_shape)

    def scatter_add(self, values: NDArray) -> NDArray:
        """A zero array of the indexed shape with `values` added at key (the gradient)."""
        index = self._index3()
        acc = NDArray.full((self.p, self.a, self.q), 0, values.dtype, values.device)
        src = values.reshape(index.shape)
        values.backend.scatter_add(acc.strided(), 1, index.strided(), src.strided())
        permuted_shape = tuple(self.view_shape[d] for d in self.perm)
        inverse = tuple(int(i) for i in np.argsort(self.perm))
        region = acc.reshape(permuted_shape).permute(inverse)
        out = NDArray.full(self.shape, 0, values.dtype, values.device)
        out.slice_view(self.basic_key).assign_(region)
        return out

    def assign(self, x: NDArray, value: NDArray | float | int | bool) -> None:
        """x[key] = value, in place. Repeated indices are refused (their result is ambiguous)."""
        index = self._index3()
        if isinstance(value, NDArray):
            x._same_device(value)
            src = value.astype(x.dtype).broadcast_to(self.result_shape).reshape(index.shape)
        else:
            src = NDArray.full((), value, x.dtype, x.device).broadcast_to(index.shape)
        target = x.slice_view(self.basic_key).permute(self.perm)
        direct = view_strides_for_reshape(target.shape, target.strides, (self.p, self.a, self.q))
        region = target.reshape(self.p, self.a, self.q)
        hits = NDArray.full(region.shape, 0, dt.int64, x.device)
        ones = NDArray.full((), 1, dt.int64, x.device).broadcast_to(index.shape)
        x.backend.scatter_add(hits.strided(), 1, index.strided(), ones.strided())
        if self.p * self.a * self.q and hits.reduce("max").item() > 1:
            raise ValueError(
                "indexed assignment with repeated indices is ambiguous; "
                "use index_add / scatter_add to accumulate instead"
            )
        cleared = NDArray.where(
            hits.scalar_op("gt", 0), NDArray.full((), 0, x.dtype, x.device), region
        )
        x.backend.scatter_add(cleared.strided(), 1, index.strided(), src.strided())
        if direct is not None:
            region.assign_(cleared)
        else:
            permuted_shape = target.shape
            target.assign_(cleared.reshape(permuted_shape))


def _expand_ellipsis_masks(items: list, ndim: int) -> list:
    """Expand Ellipsis (or pad with full slices), counting a boolean mask as the dims it covers."""
    spots = [i for i, k in enumerate(items) if k is Ellipsis]
    if len(spots) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(
        k.ndim if isinstance(k, NDArray) and k.dtype is dt.bool_ else 1
        for k in items
        if k is not None and k is not Ellipsis
    )
    if consumed > ndim:
        raise IndexError(f"too many indices for an array with {ndim} dimensions")
    fill = [slice(None)] * (ndim - consumed)
    if spots:
        return items[: spots[0]] + fill + items[spots[0] + 1 :]
    return items + fill


def _basic_shape(shape: tuple[int, ...], key: tuple) -> tuple[int, ...]:
    out = []
    axis = 0
    for k in key:
        if k is None:
            out.append(1)
            continue
        start, stop, step = k.indices(shape[axis])
        out.append(len(range(start, stop, step)))
        axis += 1
    return tuple(out) + tuple(shape[axis:])


def _checked(index: NDArray, size: int, dim: int) -> NDArray:
    """Bounds-check index values against `size` and wrap negatives (one host sync)."""
    if index.size == 0:
        return index
    low, high = index.reduce("min").item(), index.reduce("max").item()
    if low < -size or high >= size:
        bad = low if low < -size else high
        raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {size}")
    if low < 0:
        wrapped = index.binary(
            "add", index.scalar_op("lt", 0).astype(dt.int64).scalar_op("mul", size)
        )
        return wrapped
    return index
