"""Cross-rank agreement: every rank states what it passes to a collective; a mismatch raises
on every rank, naming each rank's shape, dtype and arguments.

The statement is one small all-gather of a fixed-size JSON record ahead of the collective
itself. PLUGRAD_DISTRIBUTED_CHECKS=0 turns it off; DistributedDataParallel checks its
parameter layout once at construction and skips it per step.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from .process_group import ProcessGroup

RECORD_BYTES = 256


class CollectiveMismatchError(RuntimeError):
    """The ranks called a collective with different shapes, dtypes or arguments."""


def enabled() -> bool:
    return os.environ.get("PLUGRAD_DISTRIBUTED_CHECKS", "1") not in ("0", "false", "no")


def encode(record: dict) -> np.ndarray:
    data = json.dumps(record, sort_keys=True).encode()
    if len(data) > RECORD_BYTES:  # a very long shape: compare its digest instead
        record = dict(record, shape=hashlib.sha1(str(record.get("shape")).encode()).hexdigest())
        data = json.dumps(record, sort_keys=True).encode()[:RECORD_BYTES]
    out = np.zeros(RECORD_BYTES, dtype=np.uint8)
    out[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    return out


def decode(raw: np.ndarray) -> dict:
    return json.loads(bytes(raw).rstrip(b"\0").decode())


def describe(record: dict) -> str:
    parts = [record.get("call", "?")]
    if "dtype" in record:
        parts.append(f"{record['dtype']} {tuple(record['shape'])}")
    parts += [f"{k}={record[k]}" for k in sorted(record) if k not in ("call", "dtype", "shape")]
    return " ".join(parts)


def agree(group: ProcessGroup, record: dict, force: bool = False) -> None:
    """Raise CollectiveMismatchError on every rank unless all ranks pass the same record."""
    if group.size == 1 or not (force or enabled()):
        return
    mine = encode(record)
    everyone = np.zeros(group.size * RECORD_BYTES, dtype=np.uint8)
    group.allgather(mine, everyone, f"{record.get('call')} (argument check)").wait()
    rows = everyone.reshape(group.size, RECORD_BYTES)
    if all(np.array_equal(row, mine) for row in rows):
        return
    stated = [decode(row) for row in rows]
    by_rank = "; ".join(f"rank {r}: {describe(s)}" for r, s in enumerate(stated))
    raise CollectiveMismatchError(
        f"{record.get('call')}: the ranks passed different arguments ({by_rank}). Every rank "
        "must call the same collective with tensors of the same shape and dtype and the same "
        "op and root"
    )


def all_gather_object(group: ProcessGroup, obj: object, what: str) -> list:
    """Every rank's picklable `obj`, in rank order (two all-gathers: sizes, then payloads)."""
    import pickle

    if group.size == 1:
        return [obj]
    payload = np.frombuffer(pickle.dumps(obj), dtype=np.uint8)
    sizes = np.zeros(group.size, dtype=np.int64)
    group.allgather(np.array([payload.size], dtype=np.int64), sizes, f"{what} (sizes)").wait()
    width = int(sizes.max())
    padded = np.zeros(width, dtype=np.uint8)
    padded[: payload.size] = payload
    everyone = np.zeros(group.size * width, dtype=np.uint8)
    group.allgather(padded, everyone, what).wait()
    rows = everyone.reshape(group.size, width)
    return [pickle.loads(bytes(row[:n])) for row, n in zip(rows, sizes)]  # noqa: S301 - peers
