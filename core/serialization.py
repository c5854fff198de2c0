"""Checkpoints in the safetensors format: `plugrad.save(state_dict, path)`, `plugrad.load(path)`.

A flat {name: Tensor} mapping (a Module's state_dict) is written as a plain safetensors file
that other frameworks read directly (safetensors.torch.load_file, ...). Nested state (an
optimizer's state_dict, a dict holding several state_dicts, numbers, strings) is stored as
tensors plus a JSON description of the structure in the file's metadata. Nothing is ever
pickled and nothing is executed on load. Writes are atomic (temporary file, fsync, rename):
a failed or interrupted save leaves any existing file untouched. A truncated or corrupt file
raises CheckpointError.
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import dtypes as dt
from .autograd.tensor import Tensor
from .backend.registry import get_device
from .ndarray import NDArray

__all__ = ["CheckpointError", "load", "save"]

_STRUCTURE_KEY = "plugrad.structure"
_FORMAT_KEY = "plugrad.format"
_FORMAT_VERSION = "1"
_MAX_HEADER = 100_000_000  # bytes; the safetensors reference implementation's limit

# safetensors dtype -> (NumPy dtype of the stored bytes, plugrad dtype it loads as)
_LOADABLE: dict[str, tuple[np.dtype, dt.DType]] = {
    "F64": (np.dtype("<f8"), dt.float64),
    "F32": (np.dtype("<f4"), dt.float32),
    "F16": (np.dtype("<f2"), dt.float32),
    "BF16": (np.dtype("<u2"), dt.float32),
    "I64": (np.dtype("<i8"), dt.int64),
    "I32": (np.dtype("<i4"), dt.int64),
    "I16": (np.dtype("<i2"), dt.int64),
    "I8": (np.dtype("i1"), dt.int64),
    "U32": (np.dtype("<u4"), dt.int64),
    "U16": (np.dtype("<u2"), dt.int64),
    "U8": (np.dtype("u1"), dt.int64),
    "BOOL": (np.dtype("bool"), dt.bool_),
}


class CheckpointError(ValueError):
    """A checkpoint file that is truncated, corrupt or not in the safetensors format."""


# --- saving ------------------------------------------------------------------------------
def _is_flat(obj: Mapping) -> bool:
    return all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items())


def _host(t: Tensor) -> np.ndarray:
    array = np.asarray(t.detach().array.numpy(), order="C")  # keeps 0-d shape
    return array.astype(array.dtype.newbyteorder("<"), copy=False)


def _encode(obj: Any, path: str, tensors: dict[str, np.ndarray]) -> Any:
    """The JSON skeleton of obj; tensors are collected into `tensors` under unique names."""
    if isinstance(obj, Tensor):
        name = path or "tensor"
        while name in tensors:
            name += "_"
        tensors[name] = _host(obj)
        return {"t": name}
    if isinstance(obj, Mapping):
        items = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(
                    f"checkpoint keys must be str or int, got {key!r} ({type(key).__name__}) "
                    f"at {path or 'the top level'}"
                )
            items.append([key, _encode(value, f"{path}.{key}" if path else str(key), tensors)])
        return {"d": items}
    if isinstance(obj, (list, tuple)):
        kind = "l" if isinstance(obj, list) else "tu"
        return {
            kind: [
                _encode(v, f"{path}.{i}" if path else str(i), tensors) for i, v in enumerate(obj)
            ]
        }
    if obj is None or isinstance(obj, (bool, int, str)):
        return {"v": obj}
    if isinstance(obj, float):
        return {"f": repr(obj)} if not math.isfinite(obj) else {"v": obj}
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return _encode(obj.item(), path, tensors)
    raise TypeError(
        f"can't save a {type(obj).__name__} at {path or 'the top level'}: checkpoints hold "
        "Tensors, numbers, strings, None, and lists/tuples/dicts of those (nothing is pickled)"
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save(obj: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write a state_dict (or a nested dict of tensors and plain values) to `path` in the
    safetensors format, atomically: the file is either the old one or the complete new one."""
    if not isinstance(obj, Mapping):
        raise TypeError(
            f"plugrad.save takes a mapping such as model.state_dict(), got {type(obj).__name__}"
        )
    data = _serialize(obj)
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(
            f"can't save to {str(target)!r}: directory {str(directory)!r} does not exist"
        )
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if hasattr(os, "O_DIRECTORY"):
        try:
            dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)


# --- loading -----------------------------------------------------------------------------
def _corrupt(path: str, why: str) -> CheckpointError:
    return CheckpointError(
        f"checkpoint {path!r} is truncated or corrupt ({why}); it is not a valid safetensors "
        "file: re-create it with plugrad.save"
    )


def _parse(data: bytes, path: str) -> tuple[dict[str, tuple[np.ndarray, str]], dict[str, str]]:
    """Validate the safetensors layout; return ({name: (stored array, dtype code)}, metadata)."""
    if len(data) < 8:
        raise _corrupt(path, f"{len(data)} bytes, shorter than the 8-byte header length")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > _MAX_HEADER or 8 + header_len > len(data):
        raise _corrupt(path, f"header of {header_len} bytes does not fit in {len(data)} bytes")
    try:
        header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _corrupt(path, f"the header is not valid JSON: {error}") from None
    if not isinstance(header, dict):
        raise _corrupt(path, "the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _corrupt(path, "__metadata__ must map strings to strings")
    body = memoryview(data)[8 + header_len :]
    spans = []
    arrays: dict[str, tuple[np.ndarray, str]] = {}
    for name, info in header.items():
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
            raise _corrupt(path, f"entry {name!r} lacks dtype, shape or data_offsets")
        kind, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(kind, str):
            raise _corrupt(path, f"entry {name!r} has an invalid dtype {kind!r}")
        if kind not in _LOADABLE:
            raise CheckpointError(
                f"checkpoint {path!r}: tensor {name!r} has dtype {kind}, which plugrad can't "
                f"load (supported: {', '.join(_LOADABLE)})"
            )
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise _corrupt(path, f"entry {name!r} has an invalid shape {shape!r}")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        ):
            raise _corrupt(path, f"entry {name!r} has invalid data_offsets {offsets!r}")
        stored = _LOADABLE[kind][0]
        begin, end = offsets
        expected = math.prod(shape) * stored.itemsize
        if not 0 <= begin <= end <= len(body) or end - begin != expected:
            raise _corrupt(
                path,
                f"tensor {name!r} of shape {tuple(shape)} and dtype {kind} needs {expected} bytes "
                f"at [{begin}, {end}) of a {len(body)}-byte data section",
            )
        spans.append((begin, end))
        arrays[name] = (np.frombuffer(body[begin:end], dtype=stored).reshape(shape), kind)
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            raise _corrupt(path, "tensor data overlaps or leaves holes")
        position = end
    if position != len(body):
        raise _corrupt(path, f"the data section has {len(body)} bytes, the tensors use {position}")
    return arrays, metadata


def _to_tensor(array: np.ndarray, kind: str, device: object) -> Tensor:
    target_dtype = _LOADABLE[kind][1]
    if kind == "BF16":
        array = (array.astype(np.uint32) << 16).view(np.float32)
    host = np.asarray(array, dtype=target_dtype.numpy, order="C")
    return Tensor._wrap(NDArray.from_numpy(host, get_device(device), target_dtype))


def _decode(node: Any, tensors: dict[str, Tensor], path: str) -> Any:
    if not isinstance(node, dict) or len(node) != 1:
        raise _corrupt(path, "the structure metadata is malformed")
    ((kind, value),) = node.items()
    if kind == "t":
        if not isinstance(value, str) or value not in tensors:
            raise _corrupt(path, f"the structure names a missing tensor {value!r}")
        return tensors[value]
    if kind == "d":
        if not isinstance(value, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], (str, int)) for p in value
        ):
            raise _corrupt(path, "the structure metadata is malformed")
        return {k: _decode(v, tensors, path) for k, v in value}
    if kind in ("l", "tu"):
        if not isinstance(value, list):
            raise _corrupt(path, "the structure metadata is malformed")
        items = [_decode(v, tensors, path) for v in value]
        return items if kind == "l" else tuple(items)
    if kind == "v":
        if isinstance(value, (dict, list)):
            raise _corrupt(path, "the structure metadata is malformed")
        return value
    if kind == "f" and value in ("inf", "-inf", "nan"):
        return float(value)
    raise _corrupt(path, f"unknown structure entry {kind!r}")


def load(path: str | os.PathLike, device: object = None) -> dict[str, Any]:
    """Read a checkpoint written by `plugrad.save` (or any safetensors file) onto `device`
    (default: the default device). Raises CheckpointError for a truncated or corrupt file."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"no checkpoint at {name!r}") from None
    arrays, metadata = _parse(data, name)
    target = get_device(device)
    tensors = {k: _to_tensor(a, kind, target) for k, (a, kind) in arrays.items()}
    structure = metadata.get(_STRUCTURE_KEY)
    if structure is None:
        return tensors
    try:
        skeleton = json.loads(structure)
    except json.JSONDecodeError as error:
        raise _corrupt(name, f"the structure metadata is not valid JSON: {error}") from None
    result = _decode(skeleton, tensors, name)
    if not isinstance(result, dict):
        raise _corrupt(name, "the structure metadata does not describe a dict")
    return result
