"""The safetensors layout as plugrad reads it: the header is validated entry by entry before any
array is made, and files in other formats (PyTorch pickles, zip archives) are named as such.

A file is `<u64 little-endian header length> <JSON header> <data>`; the header maps each tensor
name to {"dtype", "shape", "data_offsets": [begin, end)} within the data, plus an optional
"__metadata__" {str: str}. Every way a header can be wrong raises CheckpointError.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zipfile
from pathlib import PurePath

import numpy as np

from . import dtypes as dt

__all__ = [
    "LOADABLE",
    "METADATA_KEY",
    "CheckpointError",
    "corrupt",
    "foreign_format",
    "json_loads",
    "parse",
]

METADATA_KEY = "__metadata__"  # reserved by safetensors: no tensor may have this name
_MAX_HEADER = 100_000_000  # bytes; the safetensors reference implementation's limit
_MAX_NDIM = 64  # NumPy's limit, far beyond any tensor plugrad makes
_MAX_BYTES = 2**63 - 1  # what a byte count (and an element count) must fit: int64

# safetensors dtype -> (NumPy dtype of the stored bytes, plugrad dtype it loads as); uint16
# and uint32, which plugrad lacks, load as int64 (every value fits)
LOADABLE: dict[str, tuple[np.dtype, dt.DType]] = {
    "F64": (np.dtype("<f8"), dt.float64),
    "F32": (np.dtype("<f4"), dt.float32),
    "F16": (np.dtype("<f2"), dt.float16),
    "BF16": (np.dtype("<u2"), dt.bfloat16),
    "I64": (np.dtype("<i8"), dt.int64),
    "I32": (np.dtype("<i4"), dt.int32),
    "I16": (np.dtype("<i2"), dt.int16),
    "I8": (np.dtype("i1"), dt.int8),
    "U32": (np.dtype("<u4"), dt.int64),
    "U16": (np.dtype("<u2"), dt.int64),
    "U8": (np.dtype("u1"), dt.uint8),
    "BOOL": (np.dtype("u1"), dt.bool_),  # bytes; any nonzero byte is True
}


class CheckpointError(ValueError):
    """A checkpoint file that is truncated, corrupt or not in the safetensors format."""


def corrupt(path: str, why: str) -> CheckpointError:
    return CheckpointError(
        f"checkpoint {path!r} is truncated or corrupt ({why}); it is not a valid safetensors "
        "file: re-create it with plugrad.save"
    )


def json_loads(text: str | bytes, path: str, what: str) -> object:
    """json.loads whose every failure (syntax, nesting too deep for the parser, an integer
    too long to convert) is a CheckpointError naming `what` was being read."""
    try:
        return json.loads(text)
    except RecursionError:
        raise corrupt(path, f"{what} is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError is a ValueError
        raise corrupt(path, f"{what} is not valid JSON: {error}") from None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_entry(path: str, name: str, info: object, body_len: int) -> tuple[np.dtype, list, int]:
    """Validate one header entry; return (stored NumPy dtype, shape, begin offset)."""
    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
        raise corrupt(path, f"entry {name!r} lacks dtype, shape or data_offsets")
    kind, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(kind, str):
        raise corrupt(path, f"entry {name!r} has an invalid dtype {kind!r}")
    if kind not in LOADABLE:
        raise CheckpointError(
            f"checkpoint {path!r}: tensor {name!r} has dtype {kind}, which plugrad can't "
            f"load (supported: {', '.join(LOADABLE)})"
        )
    if (
        not isinstance(shape, list)
        or len(shape) > _MAX_NDIM
        or not all(_is_int(d) and 0 <= d <= _MAX_BYTES for d in shape)
    ):
        raise corrupt(path, f"entry {name!r} has an invalid shape {_short(shape)}")
    stored = LOADABLE[kind][0]
    # Like NumPy, count the nonzero dimensions too: (0, 2**62, 4) is no array either.
    if math.prod(d for d in shape if d) * stored.itemsize > _MAX_BYTES:
        raise corrupt(path, f"entry {name!r} has shape {_short(shape)}: its size overflows int64")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_int, offsets))):
        raise corrupt(path, f"entry {name!r} has invalid data_offsets {_short(offsets)}")
    begin, end = offsets
    expected = math.prod(shape) * stored.itemsize
    if not 0 <= begin <= end <= body_len or end - begin != expected:
        raise corrupt(
            path,
            f"tensor {name!r} of shape {tuple(shape)} and dtype {kind} needs {expected} bytes "
            f"at [{_short(begin)}, {_short(end)}) of a {body_len}-byte data section",
        )
    return stored, shape, begin


def _short(value: object) -> str:
    """repr(value), cut short: a hostile header can hold a 4,000-digit number."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse(data: bytes, path: str) -> tuple[dict[str, tuple[np.ndarray, str]], dict[str, str]]:
    """Validate the safetensors layout; return ({name: (stored array, dtype code)}, metadata)."""
    if len(data) < 8:
        raise corrupt(path, f"{len(data)} bytes, shorter than the 8-byte header length")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > _MAX_HEADER or 8 + header_len > len(data):
        raise corrupt(path, f"header of {header_len} bytes does not fit in {len(data)} bytes")
    header = json_loads(data[8 : 8 + header_len], path, "the header")
    if not isinstance(header, dict):
        raise corrupt(path, "the header is not a JSON object")
    metadata = header.pop(METADATA_KEY, None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise corrupt(path, f"{METADATA_KEY} must map strings to strings")
    body = memoryview(data)[8 + header_len :]
    spans = []
    arrays: dict[str, tuple[np.ndarray, str]] = {}
    for name, info in header.items():
        stored, shape, begin = _check_entry(path, name, info, len(body))
        end = begin + math.prod(shape) * stored.itemsize
        spans.append((begin, end))
        arrays[name] = (np.frombuffer(body[begin:end], dtype=stored).reshape(shape), info["dtype"])
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            raise corrupt(path, "tensor data overlaps or leaves holes")
        position = end
    if position != len(body):
        raise corrupt(path, f"the data section has {len(body)} bytes, the tensors use {position}")
    return arrays, metadata


def _convert_hint(path: str) -> str:
    try:
        target = str(PurePath(path).with_suffix(".safetensors"))
    except ValueError:  # a name with no stem
        target = "model.safetensors"
    return (
        "Convert it once where PyTorch is installed: `from safetensors.torch import save_file; "
        f"save_file(torch.load({path!r}, weights_only=True), {target!r})` (save_file takes a "
        "flat {name: tensor} dict such as model.state_dict(); for a checkpoint dict pass the "
        f"state_dict inside it), then plugrad.load({target!r})"
    )


def foreign_format(data: bytes, path: str) -> CheckpointError | None:
    """The error for a file in a format plugrad knows but never reads (a PyTorch pickle, a zip
    archive), or None. Only the bytes are inspected: nothing is unpickled."""
    if data[:4] == b"PK\x03\x04":
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except (zipfile.BadZipFile, ValueError, OSError):
            names = []
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return CheckpointError(
                f"checkpoint {path!r} is a PyTorch pickle (torch.save's zip format), not a "
                "safetensors file; plugrad never unpickles, because unpickling a file can run "
                f"any code in it. {_convert_hint(path)}"
            )
        return CheckpointError(f"{path!r} is a zip archive, not a safetensors checkpoint")
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:  # PROTO opcode, protocol 2-5
        return CheckpointError(
            f"checkpoint {path!r} is a Python pickle (PyTorch's legacy torch.save format), not a "
            "safetensors file; plugrad never unpickles, because unpickling a file can run any "
            f"code in it. {_convert_hint(path)}"
        )
    return None
