"""Checking the arguments of the public API: integers, pairs, sizes, dims and tensor lists.

Each helper takes the function's name and the argument's, returns the normalised value, and
raises an error that names both and says what the argument should be, as torch's argument
parser does. An integer is an int, a NumPy integer or anything with __index__ (a 0-d int64
tensor), never a bool or a float: `stride=1.5` or `groups=3.7` is refused, not truncated.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any

from .shapes import normalize_axis


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def as_int(value: Any) -> int | None:
    """value as an int, or None when it is not an integer (bools and floats are not)."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def integer(fn: str, name: str, value: Any, minimum: int | None = None, expected: str = "") -> int:
    """`value` as an int of at least `minimum`: conv2d's groups, chunk's chunks. `expected`
    replaces "an int of at least ..." in the message."""
    result = as_int(value)
    if result is None or (minimum is not None and result < minimum):
        bound = "" if minimum is None else f" of at least {minimum}"
        raise (TypeError if result is None else ValueError)(
            f"{fn}(): {name} must be {expected or 'an int' + bound}, got {_describe(value)}"
        )
    return result


def int_tuple(
    fn: str, name: str, value: Any, length: int, minimum: int, alternatives: str = ""
) -> tuple[int, ...]:
    """An int (repeated `length` times) or a sequence of `length` ints, each >= minimum:
    conv2d's stride (1), padding (0) and dilation (1). `alternatives` names other accepted
    values for the message ("'same', 'valid', ")."""
    single = as_int(value)
    items: list[Any] = [value] * length if single is not None else _items(value)
    ints = [as_int(v) for v in items]
    if len(items) != length or any(
        i is None or i < minimum for i in ints
    ):  # one message for every way of being wrong, as the fix is the same
        raise (TypeError if any(i is None for i in ints) else ValueError)(
            f"{fn}(): {name} must be {alternatives}an int or a sequence of {length} ints, each "
            f"at least {minimum}, got {_describe(value)}"
        )
    return tuple(ints)  # type: ignore[arg-type]


def _items(value: Any) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return [value]  # judged as one item: the message shows the value as given
    return list(value)


def sizes(
    fn: str, args: tuple, name: str = "size", minus_one: str | None = None
) -> tuple[int, ...]:
    """Sizes given as f(2, 3) or f((2, 3)), each a non-negative int, or -1 where the caller
    gives it a meaning, `minus_one` (reshape infers that size, expand keeps it)."""
    minimum = 0 if minus_one is None else -1
    value: Any = args
    if len(args) == 1 and type(args[0]) in (tuple, list):
        value = args[0]
    elif len(args) == 1 and not isinstance(args[0], (str, bytes)) and as_int(args[0]) is None:
        value = args[0]
        if not isinstance(value, Iterable):
            raise TypeError(f"{fn}(): {name} must be a sequence of ints, got {_describe(value)}")
    ints = []
    for i, d in enumerate(value):
        n = d if type(d) is int else as_int(d)
        if n is None:
            raise TypeError(
                f"{fn}(): {name} must be a sequence of ints, got {_describe(d)} at position {i}"
            )
        if n < minimum:
            meaning = "" if minus_one is None else f", or -1 {minus_one}"
            raise ValueError(
                f"{fn}(): {name} has {n} at position {i}; sizes must be non-negative{meaning}"
            )
        ints.append(n)
    return tuple(ints)


def expanded_shape(fn: str, target: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """torch's expand sizes (already ints of at least -1): -1 keeps an existing size, new
    dimensions go in front and need a size of their own."""
    lead = len(target) - len(shape)
    if lead < 0:
        raise ValueError(
            f"{fn}(): {len(target)} sizes {target} were given for a tensor of {len(shape)} "
            f"dimensions {shape}; give at least one size per dimension"
        )
    if -1 not in target:
        return target
    for i in range(lead):
        if target[i] == -1:
            raise ValueError(
                f"{fn}(): size -1 at position {i} is a new leading dimension, which has no "
                f"existing size to keep; give its size (target {target}, tensor {shape})"
            )
    return tuple(shape[i - lead] if d == -1 else d for i, d in enumerate(target))


def dims(fn: str, dim: Any, ndim: int) -> tuple[int, ...] | None:
    """None (every dimension) or an int or a sequence of ints, each in range: the sorted
    non-negative dims. A dim given twice is refused, as torch does."""
    if dim is None:
        return None
    sequence = type(dim) in (tuple, list)  # the common cases skip the slower checks
    single = dim if type(dim) is int else None if sequence else as_int(dim)
    items = [single] if single is not None else None
    if items is None:
        if not sequence and (isinstance(dim, (str, bytes)) or not isinstance(dim, Iterable)):
            raise TypeError(
                f"{fn}(): dim must be an int, a sequence of ints or None, got {_describe(dim)}"
            )
        items = []
        for d in dim:
            n = d if type(d) is int else as_int(d)
            if n is None:
                raise TypeError(f"{fn}(): dim must contain ints only, got {_describe(d)}")
            items.append(n)
    result = [d + ndim if -ndim <= d < 0 else d for d in items]  # the common, valid case
    if any(not 0 <= d < max(ndim, 1) for d in result):
        result = [normalize_axis(d, ndim) for d in items]  # raises, naming the valid range
    if len(set(result)) != len(result):
        repeated = next(d for d in result if result.count(d) > 1)
        raise ValueError(f"{fn}(): dim {repeated} appears multiple times in the list of dims")
    return tuple(sorted(result)) if ndim else ()


def split_sizes(value: Any, total: int, dim: int) -> list[int]:
    """torch.split's pieces of a dim of size `total`: `value` is one size (the last piece may
    be smaller; 0 only for an empty dim) or the sizes themselves, summing to `total`."""
    if as_int(value) is not None:
        step = integer("split", "split_size", value, minimum=0)
        if step == 0 and total:
            raise ValueError(
                f"split(): split_size can only be 0 if the dimension size is 0, but dim {dim} "
                f"has size {total}"
            )
        return [min(step, total - s) for s in range(0, total, step)] if total else [0]
    pieces = list(sizes("split", (value,), "split_sizes"))
    if sum(pieces) != total:
        raise ValueError(
            f"split(): split_sizes {pieces} must sum to the size of dim {dim}, {total}"
        )
    return pieces


def tensor_list(fn: str, tensors: Any, tensor_type: type, at_least_1d: bool = False) -> list[Any]:
    """A list or tuple (any iterable) of tensors, not a single tensor, not empty; with
    `at_least_1d` none may be 0-d (cat joins along an existing dim)."""
    if (
        isinstance(tensors, tensor_type)
        or isinstance(tensors, (str, bytes))
        or not isinstance(tensors, Iterable)
    ):
        hint = (
            "; to use the rows of a tensor, pass list(t)"
            if isinstance(tensors, tensor_type)
            else ""
        )
        raise TypeError(
            f"{fn}(): tensors must be a list or tuple of Tensors, got {type(tensors).__name__}"
            + hint
        )
    items = list(tensors)
    if not items:
        raise ValueError(f"{fn}(): expected a non-empty list of Tensors")
    for i, t in enumerate(items):
        if not isinstance(t, tensor_type):
            raise TypeError(
                f"{fn}(): expected a Tensor as element {i} of tensors, got "
                f"{type(t).__name__}; make one with plugrad.tensor(...)"
            )
        if at_least_1d and not t.shape:
            raise ValueError(
                f"{fn}(): zero-dimensional tensor (at position {i}) cannot be concatenated; "
                "use stack() to join 0-d tensors into a 1-d one"
            )
    return items


def device_and_floating_dtype(fn: str, args: tuple, kwargs: dict) -> tuple[Any, Any]:
    """The (Device or None, floating DType or None) of `fn(device)`, `fn(dtype)`,
    `fn(device, dtype)` and their keyword forms, as Module.to and Optimizer.to take them."""
    from . import dtypes as dt
    from .backend.registry import get_device

    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    if kwargs:
        raise TypeError(f"unexpected arguments to {fn}: {', '.join(kwargs)}")
    for arg in args:
        if isinstance(arg, dt.DType) or (isinstance(arg, str) and arg in dt.ALL):
            dtype = arg
        else:
            device = arg
    target = get_device(device) if device is not None else None
    want = dt.as_dtype(dtype) if dtype is not None else None
    if want is not None and not want.is_floating:
        raise TypeError(f"{fn} only casts to floating dtypes, got {want.name}")
    return target, want
