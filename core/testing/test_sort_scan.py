"""The `sort` and `scan` kernels of a backend against plain Python and NumPy, on drawn shapes,
dtypes, axes and strided views, NaN included.

The oracles walk each row in Python (sorted() is stable; running sums, products and extremes
in float64), so they share nothing with any backend. Run with
`pytest --pyargs plugrad.testing --backend NAME`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugrad.backend.protocol import SCAN_INDEXED_OPS, SCAN_OPS
from plugrad.testing.helpers import assert_close, compact_out, need, read
from plugrad.testing.strategies import DTYPES, FLOAT_DTYPES, NUMERIC, kit_settings, shapes, views


def _rows(array: np.ndarray, axis: int):
    """(index tuple of the row, the row as a 1-D array) for every row along axis."""
    moved = np.moveaxis(array, axis, -1)
    for position in np.ndindex(*moved.shape[:-1]):
        yield position, moved[position]


def _with_nans(data, case, dtype: str, label: str) -> None:
    """Put NaN at about one position in eight of the drawn view's buffer (floats only)."""
    if dtype not in FLOAT_DTYPES:
        return
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label=f"{label} nans"))
    case.flat[rng.random(case.flat.size) < 0.125] = np.nan


def _draw_along_axis(data, dtype: str, kind: str, max_side: int = 6):
    shape = data.draw(shapes(min_dims=1, max_side=max_side), label="shape")
    axis = data.draw(st.integers(0, len(shape) - 1), label="axis")
    case = data.draw(views(shape, dtype, kind=kind), label="x")
    return shape, axis, case


def _sort_key(value: float, descending: bool) -> tuple:
    """NaN largest; descending negates the others (equal values stay equal, -0.0 too)."""
    nan = math.isnan(value)
    if descending:
        return (not nan, 0.0 if nan else -value)
    return (nan, 0.0 if nan else value)


def sort_reference(x: np.ndarray, axis: int, descending: bool) -> tuple[np.ndarray, np.ndarray]:
    """Stable sort by rows with sorted(): NaN largest, equal values in their order."""
    order = np.zeros(x.shape, dtype=np.int64)
    moved = np.moveaxis(order, axis, -1)
    for position, row in _rows(x, axis):
        keys = [_sort_key(float(v), descending) for v in row]
        moved[position] = sorted(range(len(keys)), key=keys.__getitem__)
    return np.take_along_axis(x, order, axis), order


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("dtype", DTYPES)
@kit_settings()
@given(data=st.data())
def test_sort(backend, dtype, descending, data):
    need(backend, dtype)
    shape, axis, case = _draw_along_axis(data, dtype, "ties")
    _with_nans(data, case, dtype, "x")
    values, indices = compact_out(backend, shape, dtype), compact_out(backend, shape, "int64")
    backend.sort(case.upload(backend), axis, descending, values, indices)
    expected_values, expected_indices = sort_reference(case.view, axis, descending)
    msg = f"axis={axis} descending={descending} {case.layout}"
    np.testing.assert_array_equal(read(backend, indices), expected_indices, err_msg=msg)
    np.testing.assert_array_equal(read(backend, values), expected_values, err_msg=msg)


@pytest.mark.parametrize("dtype", NUMERIC)
@kit_settings(4)
@given(data=st.data())
def test_sort_long_rows_and_many_rows(backend, dtype, data):
    """Rows long enough for several merge passes, and enough of them to be split between
    threads; NumPy's stable argsort is the oracle here (the rows are too long for sorted())."""
    need(backend, dtype)
    shape = data.draw(st.sampled_from([(2, 5000), (3000, 37), (41, 3, 700)]), label="shape")
    axis = data.draw(st.integers(0, len(shape) - 1), label="axis")
    descending = data.draw(st.booleans(), label="descending")
    case = data.draw(views(shape, dtype, kind="ties"), label="x")
    values, indices = compact_out(backend, shape, dtype), compact_out(backend, shape, "int64")
    backend.sort(case.upload(backend), axis, descending, values, indices)
    x = case.view
    wide = x.astype(np.float64)  # exact for the small integers drawn ("ties"), in every dtype
    if descending:  # -x keeps the order of equal values, so stable argsort of -x sorts down
        order = np.argsort(-wide, axis=axis, kind="stable")
    else:
        order = np.argsort(wide, axis=axis, kind="stable")
    np.testing.assert_array_equal(read(backend, indices), order, err_msg=case.layout)
    np.testing.assert_array_equal(read(backend, values), np.take_along_axis(x, order, axis))


# --- scans --------------------------------------------------------------------------------


def _running(op: str, row: list) -> tuple[list, list]:
    """The inclusive scan of one row in float64 (Python ints for integers), and for max/min
    the position of each running extreme: the last of equal values and the latest NaN (torch's
    rule)."""
    values, positions = [], []
    acc, at = None, 0
    for i, v in enumerate(row):
        if acc is None:
            acc = v
        elif op == "sum":
            acc = acc + v
        elif op == "prod":
            acc = acc * v
        elif op == "logaddexp":
            high = max(acc, v) if acc == acc and v == v else math.nan
            if high != high or math.isinf(high):
                acc = high if high == high else math.nan
            else:
                acc = high + math.log(math.exp(acc - high) + math.exp(v - high))
        else:
            nan = v != v
            if nan or (v >= acc if op == "max" else v <= acc):
                acc, at = v, i
        if i == 0:
            at = 0
        values.append(acc)
        positions.append(at)
    return values, positions


def scan_reference(op: str, x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    if x.dtype == np.bool_ and op in ("sum", "prod"):
        op = "max" if op == "sum" else "min"  # logical or / and
    if x.dtype.kind in "iu" and op in ("sum", "prod"):
        # Integers wrap: NumPy's cumsum in int64 does too, and assert_close wraps it to the
        # narrower dtype (mod 2**bits).
        scan = np.cumsum if op == "sum" else np.cumprod
        return scan(x.astype(np.int64), axis=axis), np.zeros(x.shape, np.int64)
    # bfloat16's NumPy kind is "V" (ml_dtypes), so test for the integer and bool kinds
    wide = x.astype(np.int64) if x.dtype.kind in "iub" else x.astype(np.float64)
    out = np.zeros(x.shape, dtype=wide.dtype)
    positions = np.zeros(x.shape, dtype=np.int64)
    out_rows, pos_rows = np.moveaxis(out, axis, -1), np.moveaxis(positions, axis, -1)
    for position, row in _rows(wide, axis):
        out_rows[position], pos_rows[position] = _running(op, row.tolist())
    return out, positions


SCAN = {
    # op: (dtypes, value kind)
    "sum": (DTYPES, "any"),
    "prod": (DTYPES, "prod"),
    "max": (DTYPES, "ties"),
    "min": (DTYPES, "ties"),
    "logaddexp": (FLOAT_DTYPES, "any"),
}


def test_scan_table_covers_protocol():
    assert set(SCAN) == set(SCAN_OPS)
    assert set(SCAN_INDEXED_OPS) <= set(SCAN)


SCAN_CASES = [(op, dtype) for op, (dtypes, _) in SCAN.items() for dtype in dtypes]


@pytest.mark.parametrize(("op", "dtype"), SCAN_CASES)
@kit_settings()
@given(data=st.data())
def test_scan(backend, op, dtype, data):
    need(backend, dtype)
    kind = SCAN[op][1]
    shape, axis, case = _draw_along_axis(data, dtype, kind, max_side=4 if op == "prod" else 6)
    if op != "prod" and data.draw(st.booleans(), label="with nans"):
        _with_nans(data, case, dtype, "x")
    indexed = op in SCAN_INDEXED_OPS and data.draw(st.booleans(), label="indices_out")
    out = compact_out(backend, shape, dtype)
    indices = compact_out(backend, shape, "int64") if indexed else None
    backend.scan(op, case.upload(backend), axis, out, indices)
    expected, positions = scan_reference(op, case.view, axis)
    msg = f"{op} axis={axis} {case.layout}"
    assert_close(read(backend, out), expected, dtype, k=shape[axis], scale=3.0, msg=msg)
    if indexed:
        np.testing.assert_array_equal(read(backend, indices), positions, err_msg=msg)


@pytest.mark.parametrize("op", ["sum", "max", "logaddexp"])
@kit_settings(4)
@given(data=st.data())
def test_scan_large(backend, op, data):
    """~100k elements along every axis: past thread thresholds, with rows walked together."""
    shape = data.draw(st.sampled_from([(300, 257), (64, 65, 33)]), label="shape")
    axis = data.draw(st.integers(0, len(shape) - 1), label="axis")
    case = data.draw(views(shape, "float32"), label="x")
    out = compact_out(backend, shape, "float32")
    indices = compact_out(backend, shape, "int64") if op == "max" else None
    backend.scan(op, case.upload(backend), axis, out, indices)
    x = case.view.astype(np.float64)
    if op == "sum":
        expected = np.cumsum(x, axis=axis)
    elif op == "max":
        expected = np.maximum.accumulate(x, axis=axis)
        last = np.arange(shape[axis]).reshape([-1 if d == axis else 1 for d in range(len(shape))])
        hits = np.where(x == expected, last, 0)  # the running max is attained there
        np.testing.assert_array_equal(read(backend, indices), np.maximum.accumulate(hits, axis))
    else:
        expected = np.logaddexp.accumulate(x, axis=axis)
    assert_close(read(backend, out), expected, "float32", k=shape[axis], scale=3.0,
                 msg=f"{op} axis={axis} {case.layout}")  # fmt: skip
