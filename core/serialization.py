"""Checkpoints in the safetensors format: `plugrad.save(state_dict, path)`, `plugrad.load(path)`.

A flat {name: Tensor} mapping (a Module's state_dict) is written as a plain safetensors file
that other frameworks read directly (safetensors.torch.load_file, ...). Nested state (an
optimizer's state_dict, a dict holding several state_dicts, numbers, strings) is stored as
tensors plus a JSON description of the structure in the file's metadata; so is a flat dict
with a tensor named "__metadata__" (a name the format reserves): its tensor is stored as
"__metadata___" and loads back under its own name. Nothing is ever pickled and nothing is
executed on load. Writes are atomic and only ever replace regular files (core/fileio.py); a
truncated or corrupt file raises CheckpointError (core/checkpoint_format.py), and so does a
PyTorch pickle, with how to convert it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import dtypes as dt
from .autograd.tensor import Tensor
from .backend.registry import Device, get_device
from .checkpoint_format import (
    LOADABLE,
    METADATA_KEY,
    CheckpointError,
    corrupt,
    foreign_format,
    json_loads,
    parse,
)
from .fileio import read_regular, write_atomically
from .ndarray import NDArray

__all__ = ["CheckpointError", "load", "save"]

_STRUCTURE_KEY = "plugrad.structure"
_FORMAT_KEY = "plugrad.format"
_FORMAT_VERSION = "1"
_MAX_DEPTH = 100  # containers inside containers; real state is a handful deep


# --- saving ------------------------------------------------------------------------------
def _is_flat(obj: Mapping) -> bool:
    return METADATA_KEY not in obj and all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()
    )


def _host(t: Tensor) -> np.ndarray:
    array = np.asarray(t.detach().array.numpy(), order="C")  # keeps 0-d shape
    if array.dtype == np.bool_:  # one byte per bool, 0 or 1, whatever the bytes were
        return array.view(np.uint8).astype(np.bool_)
    return array.astype(array.dtype.newbyteorder("<"), copy=False)


def _how_to_save(obj: object) -> str:
    """What to save instead of an object that is not a checkpoint value ('' if no advice)."""
    from .nn import Module
    from .optim import Optimizer

    if isinstance(obj, Module):
        return (
            "; save model.state_dict() instead (nothing is pickled, so a Module is not saved "
            "whole: build the model, then model.load_state_dict(plugrad.load(path)))"
        )
    if isinstance(obj, Optimizer):
        return "; save opt.state_dict() instead, and restore with opt.load_state_dict(...)"
    if callable(getattr(obj, "state_dict", None)):
        return "; save its .state_dict() instead"
    if isinstance(obj, Tensor):
        return "; to save one tensor, name it: plugrad.save({'weight': t}, path)"
    return ""


def _encode(obj: Any, path: str, tensors: dict[str, np.ndarray], depth: int = 0) -> Any:
    """The JSON skeleton of obj; tensors are collected into `tensors` under unique names."""
    where = path or "the top level"
    if depth > _MAX_DEPTH:
        raise ValueError(
            f"can't save: containers nested more than {_MAX_DEPTH} deep at {where} "
            "(does a list or dict contain itself?)"
        )
    if isinstance(obj, Tensor):
        name = path or "tensor"
        while name in tensors or name == METADATA_KEY:
            name += "_"
        tensors[name] = _host(obj)
        return {"t": name}
    if isinstance(obj, Mapping):
        items = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(
                    f"checkpoint keys must be str or int, got {key!r} ({type(key).__name__}) "
                    f"at {where}"
                )
            item_path = f"{path}.{key}" if path else str(key)
            items.append([key, _encode(value, item_path, tensors, depth + 1)])
        return {"d": items}
    if isinstance(obj, (list, tuple)):
        kind = "l" if isinstance(obj, list) else "tu"
        items = [
            _encode(v, f"{path}.{i}" if path else str(i), tensors, depth + 1)
            for i, v in enumerate(obj)
        ]
        return {kind: items}
    if obj is None or isinstance(obj, (bool, int, str)):
        return {"v": obj}
    if isinstance(obj, float):
        return {"f": repr(obj)} if not math.isfinite(obj) else {"v": obj}
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return _encode(obj.item(), path, tensors, depth)
    raise TypeError(
        f"can't save a {type(obj).__name__} at {where}: checkpoints hold Tensors, numbers, "
        f"strings, None, and lists/tuples/dicts of those (nothing is pickled)" + _how_to_save(obj)
    )


def _serialize(obj: Mapping[str, Any]) -> bytes:
    from safetensors.numpy import save as st_save

    metadata = {_FORMAT_KEY: _FORMAT_VERSION}
    tensors: dict[str, np.ndarray] = {}
    if _is_flat(obj):
        for name, t in obj.items():
            tensors[name] = _host(t)
    else:
        metadata[_STRUCTURE_KEY] = json.dumps(_encode(obj, "", tensors))
    return st_save(tensors, metadata=metadata)


def save(obj: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write a state_dict (or a nested dict of tensors and plain values) to `path` in the
    safetensors format, atomically: the file is either the old one or the complete new one.
    A symlink is written through (its target is replaced); a directory, device node, FIFO or
    socket at `path` is refused with an OSError."""
    if not isinstance(obj, Mapping):
        raise TypeError(
            "plugrad.save takes a mapping such as model.state_dict(), got "
            f"{type(obj).__name__}{_how_to_save(obj)}"
        )
    write_atomically(path, _serialize(obj))


# --- loading -----------------------------------------------------------------------------
def _loaded_dtype(dtype: dt.DType, device: Device) -> dt.DType:
    """`dtype`, or where the device lacks it the narrowest wider dtype of its kind the device
    has (float16 loads as float32 on a backend without float16, int8 as int64): values are
    kept exactly."""
    supported = device.backend.dtypes
    if dtype.name in supported:
        return dtype
    kind = dt.FLOATING if dtype.is_floating else dt.INTEGER
    wider = [d for d in kind if d.name in supported and d.itemsize > dtype.itemsize]
    if not wider:
        raise TypeError(
            f"device {device.name!r} supports no dtype that holds {dtype.name} "
            f"(it supports {', '.join(supported)}); load onto another device"
        )
    return min(wider, key=lambda d: d.itemsize)


def _to_tensor(array: np.ndarray, kind: str, device: Device) -> Tensor:
    target_dtype = _loaded_dtype(LOADABLE[kind][1], device)
    if kind == "BF16":
        array = array.view(dt.bfloat16.numpy)
    elif kind == "BOOL":
        array = array != 0  # a byte other than 0 or 1 is True, stored as 1
    host = np.asarray(array, dtype=target_dtype.numpy, order="C")
    return Tensor._wrap(NDArray.from_numpy(host, device, target_dtype))


def _decode(node: Any, tensors: dict[str, Tensor], path: str, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        raise corrupt(path, f"the structure metadata is nested more than {_MAX_DEPTH} deep")
    if not isinstance(node, dict) or len(node) != 1:
        raise corrupt(path, "the structure metadata is malformed")
    ((kind, value),) = node.items()
    if kind == "t":
        if not isinstance(value, str) or value not in tensors:
            raise corrupt(path, f"the structure names a missing tensor {value!r:.60}")
        return tensors[value]
    if kind == "d":
        if not isinstance(value, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], (str, int)) for p in value
        ):
            raise corrupt(path, "the structure metadata is malformed")
        return {k: _decode(v, tensors, path, depth + 1) for k, v in value}
    if kind in ("l", "tu"):
        if not isinstance(value, list):
            raise corrupt(path, "the structure metadata is malformed")
        items = [_decode(v, tensors, path, depth + 1) for v in value]
        return items if kind == "l" else tuple(items)
    if kind == "v":
        if isinstance(value, (dict, list)):
            raise corrupt(path, "the structure metadata is malformed")
        return value
    if kind == "f" and value in ("inf", "-inf", "nan"):
        return float(value)
    raise corrupt(path, f"unknown structure entry {kind!r:.60}")


def _load_device(device: object, map_location: object) -> Device:
    """The device to load onto from `device=` or torch's spelling, `map_location=`."""
    if map_location is None:
        return get_device(device)
    if device is not None:
        raise TypeError(
            "plugrad.load got both device= and map_location= (torch's name for the same "
            "thing): pass one"
        )
    if isinstance(map_location, (str, Device)):
        return get_device(map_location)
    one_device = (
        "a safetensors file records no device per tensor, so plugrad.load puts every tensor "
        "on one device: pass it, e.g. map_location='cpu'"
    )
    if isinstance(map_location, Mapping):
        # torch remaps each tensor by the device it was saved from; with one target, all
        # tensors end up there whatever they came from, which is what such a dict asks.
        targets = {get_device(v) for v in map_location.values()}
        if len(targets) == 1:
            return targets.pop()
        raise ValueError(
            f"map_location={dict(map_location)!r} sends tensors to "
            f"{'no device' if not targets else 'different devices'}; {one_device}"
        )
    if callable(map_location):
        raise TypeError(
            "map_location as a function remaps torch storages, and plugrad has none to give it; "
            + one_device
        )
    raise TypeError(
        "map_location must be a device name, a plugrad.Device or a dict of saved locations to "
        f"one device, got {type(map_location).__module__}.{type(map_location).__qualname__}"
    )


def load(
    path: str | os.PathLike, device: object = None, *, map_location: object = None
) -> dict[str, Any]:
    """Read a checkpoint written by `plugrad.save` (or any safetensors file) onto `device`
    (default: the default device); `map_location` is torch's name for `device`. Raises
    CheckpointError for a truncated or corrupt file, or one in another format."""
    target = _load_device(device, map_location)
    name = os.fspath(path)
    data = read_regular(name)
    try:
        arrays, metadata = parse(data, name)
    except CheckpointError:
        foreign = foreign_format(data, name)  # a PyTorch pickle is not "corrupt"
        if foreign is None:
            raise
        raise foreign from None
    tensors = {k: _to_tensor(a, kind, target) for k, (a, kind) in arrays.items()}
    structure = metadata.get(_STRUCTURE_KEY)
    if structure is None:
        return tensors
    result = _decode(json_loads(structure, name, "the structure metadata"), tensors, name)
    if not isinstance(result, dict):
        raise corrupt(name, "the structure metadata does not describe a dict")
    return result
