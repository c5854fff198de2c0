"""What every backend refuses, with an exception raised before anything is written: views that
reach outside their buffer (every kernel, every operand), element counts past int64, axes out of
range, index shapes that do not fit, scalars that are not numbers. Each case here is one on
which two backends once disagreed (one raised, the other broadcast, wrapped or wrote wild
memory); the shared checks in `plugrad.backend.validation` make them agree.

Run with `pytest --pyargs plugrad.testing --backend NAME`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from plugrad.backend.protocol import LINALG_KERNELS, OPTIONAL_KERNELS, Strided
from plugrad.testing.helpers import compact_out, need, read, read_flat, upload
from plugrad.testing.strategies import FLOAT_DTYPES

REFUSED = (IndexError, ValueError, TypeError)
F32 = "float32"


def _f(*shape) -> np.ndarray:
    return np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) / 7


def _index(backend, values, shape) -> Strided:
    return upload(backend, np.asarray(values, dtype=np.int64).reshape(shape), "int64")


def _conv_args():
    return (1, 1), (0, 0), (1, 1), 1


def _zero_d(backend, value: float) -> Strided:
    return Strided(backend.from_numpy(np.full(1, value, dtype=np.float32)), (), (), 0, F32)


# One valid call per kernel: a function of the backend giving (kernel name, arguments); the
# positions of its Strided arguments are the operands the bad views replace one at a time.
CALLS = {
    "to_numpy": lambda be: ("to_numpy", [upload(be, _f(2, 3))]),
    "fill": lambda be: ("fill", [compact_out(be, (2, 3), F32), 1.5]),
    "compact": lambda be: ("compact", [upload(be, _f(2, 3)), compact_out(be, (2, 3), F32)]),
    "assign": lambda be: ("assign", [upload(be, _f(2, 3)), compact_out(be, (2, 3), F32)]),
    "unary": lambda be: ("unary", ["neg", upload(be, _f(2, 3)), compact_out(be, (2, 3), F32)]),
    "binary": lambda be: ("binary", ["add", upload(be, _f(2, 3)), upload(be, _f(2, 3)),
                                     compact_out(be, (2, 3), F32)]),
    "scalar": lambda be: ("scalar", ["mul", upload(be, _f(2, 3)), 2.0,
                                     compact_out(be, (2, 3), F32), False]),
    "where": lambda be: ("where", [upload(be, np.eye(2, 3, dtype=bool), "bool"),
                                   upload(be, _f(2, 3)), upload(be, _f(2, 3)),
                                   compact_out(be, (2, 3), F32)]),
    "cast": lambda be: ("cast", [upload(be, _f(2, 3)), compact_out(be, (2, 3), "int64")]),
    "reduce": lambda be: ("reduce", ["sum", upload(be, _f(2, 3)), (1,),
                                     compact_out(be, (2,), F32)]),
    "arg_reduce": lambda be: ("arg_reduce", ["argmax", upload(be, _f(2, 3)), 1,
                                             compact_out(be, (2,), "int64")]),
    "sort": lambda be: ("sort", [upload(be, _f(2, 3)), 1, False, compact_out(be, (2, 3), F32),
                                 compact_out(be, (2, 3), "int64")]),
    "scan": lambda be: ("scan", ["max", upload(be, _f(2, 3)), 0, compact_out(be, (2, 3), F32),
                                 compact_out(be, (2, 3), "int64")]),
    "matmul": lambda be: ("matmul", [upload(be, _f(1, 2, 3)), upload(be, _f(1, 3, 2)),
                                     compact_out(be, (1, 2, 2), F32)]),
    "conv2d": lambda be: ("conv2d", [upload(be, _f(1, 1, 3, 3)), upload(be, _f(1, 1, 2, 2)),
                                     compact_out(be, (1, 1, 2, 2), F32), *_conv_args()]),
    "conv2d_backward_input": lambda be: (
        "conv2d_backward_input", [upload(be, _f(1, 1, 2, 2)), upload(be, _f(1, 1, 2, 2)),
                                  compact_out(be, (1, 1, 3, 3), F32), *_conv_args()]),
    "conv2d_backward_weight": lambda be: (
        "conv2d_backward_weight", [upload(be, _f(1, 1, 3, 3)), upload(be, _f(1, 1, 2, 2)),
                                   compact_out(be, (1, 1, 2, 2), F32), *_conv_args()]),
    "gather": lambda be: ("gather", [upload(be, _f(2, 3)), 1, _index(be, [0, 2, 1, 1], (2, 2)),
                                     compact_out(be, (2, 2), F32)]),
    "scatter_add": lambda be: ("scatter_add", [compact_out(be, (2, 3), F32), 1,
                                               _index(be, [0, 2, 1, 1], (2, 2)),
                                               upload(be, _f(2, 2))]),
    "random_uniform": lambda be: ("random_uniform", [compact_out(be, (2, 3), F32), 0.0, 1.0, 7]),
    "random_normal": lambda be: ("random_normal", [compact_out(be, (2, 3), F32), 0.0, 1.0, 7]),
    "random_bernoulli": lambda be: ("random_bernoulli", [compact_out(be, (2, 3), F32), 0.5, 7]),
    "relu_backward": lambda be: ("relu_backward", [upload(be, _f(2, 3)), upload(be, _f(2, 3)),
                                                   compact_out(be, (2, 3), F32)]),
    "axpy": lambda be: ("axpy", [0.5, upload(be, _f(2, 3)), compact_out(be, (2, 3), F32)]),
    "cross_entropy": lambda be: ("cross_entropy", [upload(be, _f(2, 3)), _index(be, [0, 2], (2,)),
                                                   1.0, compact_out(be, (2, 3), F32),
                                                   compact_out(be, (), F32)]),
    "cross_entropy_backward": lambda be: (
        "cross_entropy_backward", [upload(be, _f(2, 3)), _index(be, [0, 2], (2,)),
                                   _zero_d(be, 1.0), 1.0,
                                   compact_out(be, (2, 3), F32)]),
    "softmax": lambda be: ("softmax", [upload(be, _f(2, 3)), compact_out(be, (2, 3), F32)]),
    "log_softmax": lambda be: ("log_softmax", [upload(be, _f(2, 3)),
                                               compact_out(be, (2, 3), F32)]),
    "softmax_backward": lambda be: ("softmax_backward", [upload(be, _f(2, 3)),
                                                         upload(be, _f(2, 3)),
                                                         compact_out(be, (2, 3), F32)]),
    "log_softmax_backward": lambda be: ("log_softmax_backward", [upload(be, _f(2, 3)),
                                                                 upload(be, _f(2, 3)),
                                                                 compact_out(be, (2, 3), F32)]),
    "linalg_cholesky": lambda be: ("linalg_cholesky", [upload(be, _f(1, 2, 2)),
                                                       compact_out(be, (1, 2, 2), F32),
                                                       compact_out(be, (1,), "int64")]),
    "linalg_solve": lambda be: ("linalg_solve", [upload(be, _f(1, 2, 2)), upload(be, _f(1, 2, 1)),
                                                 compact_out(be, (1, 2, 1), F32),
                                                 compact_out(be, (1,), "int64")]),
    "linalg_slogdet": lambda be: ("linalg_slogdet", [upload(be, _f(1, 2, 2)),
                                                     compact_out(be, (1,), F32),
                                                     compact_out(be, (1,), F32)]),
    "linalg_qr": lambda be: ("linalg_qr", [upload(be, _f(1, 3, 2)),
                                           compact_out(be, (1, 3, 2), F32),
                                           compact_out(be, (1, 2, 2), F32)]),
    "linalg_eigh": lambda be: ("linalg_eigh", [upload(be, _f(1, 2, 2)),
                                               compact_out(be, (1, 2), F32),
                                               compact_out(be, (1, 2, 2), F32)]),
    "linalg_svd": lambda be: ("linalg_svd", [upload(be, _f(1, 3, 2)),
                                             compact_out(be, (1, 3, 2), F32),
                                             compact_out(be, (1, 2), F32),
                                             compact_out(be, (1, 2, 2), F32)]),
}  # fmt: skip


def _operand_positions(kernel: str) -> list[int]:
    """Positions of the Strided arguments of `kernel`'s call (found on a NumPy stand-in)."""
    return [i for i, arg in enumerate(CALLS[kernel](_HOST)[1]) if isinstance(arg, Strided)]


class _HostBackend:
    """Just enough of a backend to build the calls above without a device."""

    name = "host"

    @staticmethod
    def from_numpy(array, copy=True):
        return np.array(array, copy=True)


_HOST = _HostBackend()
CASES = [(kernel, position) for kernel in CALLS for position in _operand_positions(kernel)]


def _call(backend, kernel: str):
    if kernel in OPTIONAL_KERNELS + LINALG_KERNELS and getattr(backend, kernel, None) is None:
        pytest.skip(f"{backend.name} has no optional kernel {kernel}")
    name, args = CALLS[kernel](backend)
    return getattr(backend, name), args


def _past_the_end(view: Strided) -> Strided:
    """The same view shifted by one element: its last element lies just past its buffer."""
    return Strided(view.buffer, view.shape, view.strides, view.offset + 1, view.dtype)


def _before_the_start(view: Strided) -> Strided:
    """The view reversed on an axis from offset 0, so that it reaches below element 0 (at
    offset -1 when no axis has two elements)."""
    axis = next((d for d, side in enumerate(view.shape) if side > 1), None)
    if axis is None:
        return Strided(view.buffer, view.shape, view.strides, -1, view.dtype)
    strides = tuple(-s if d == axis else s for d, s in enumerate(view.strides))
    return Strided(view.buffer, view.shape, strides, 0, view.dtype)


def _snapshot(backend, args) -> list:
    """The whole content of every valid writable operand, to see that nothing was written."""
    return [read_flat(backend, a.buffer, _size(a), a.dtype) for a in args if isinstance(a, Strided)]


def _size(view: Strided) -> int:
    return int(np.prod(view.shape, dtype=np.int64))


@pytest.mark.parametrize(("kernel", "position"), CASES, ids=[f"{k}-arg{p}" for k, p in CASES])
@pytest.mark.parametrize("how", ["past_the_end", "before_the_start"])
def test_a_view_outside_its_buffer_is_refused(backend, kernel, position, how):
    kernel_fn, args = _call(backend, kernel)
    bad = (_past_the_end if how == "past_the_end" else _before_the_start)(args[position])
    args[position] = bad
    others = [a if i != position else None for i, a in enumerate(args)]
    before = _snapshot(backend, [a for a in others if a is not None])
    with pytest.raises(REFUSED):
        kernel_fn(*args)
    after = _snapshot(backend, [a for a in others if a is not None])
    for old, new in zip(before, after):
        np.testing.assert_array_equal(new, old, err_msg="written before the refusal")


@pytest.mark.parametrize("kernel", ["unary", "binary", "reduce", "fill", "compact"])
def test_an_element_count_past_int64_is_refused(backend, kernel):
    """A broadcast (stride 0) view of 2**62 x 4 elements reaches one element of memory, but
    its count wraps in int64: refused before any loop or division."""
    kernel_fn, args = _call(backend, kernel)
    one = upload(backend, np.ones(1, dtype=np.float32))
    huge = Strided(one.buffer, (2**62, 4), (0, 0), 0, F32)
    position = next(i for i, a in enumerate(args) if isinstance(a, Strided))
    args[position] = huge
    with pytest.raises(REFUSED):
        kernel_fn(*args)


def test_reduce_refuses_axes_out_of_range(backend):
    x = upload(backend, _f(2, 3))
    for axes, out_shape in (((2,), (2, 3)), ((-1,), (2,)), ((5,), (2, 3)), ((1, 1), (2,))):
        with pytest.raises(REFUSED):
            backend.reduce("sum", x, axes, compact_out(backend, out_shape, F32))


def test_arg_reduce_gather_and_scatter_refuse_axes_out_of_range(backend):
    x = upload(backend, _f(2, 3))
    for axis in (2, -1, 7):
        with pytest.raises(REFUSED):
            backend.arg_reduce("argmax", x, axis, compact_out(backend, (2,), "int64"))
        with pytest.raises(REFUSED):
            backend.gather(x, axis, _index(backend, [0, 0], (1, 2)),
                           compact_out(backend, (1, 2), F32))  # fmt: skip
        with pytest.raises(REFUSED):
            out = compact_out(backend, (2, 3), F32)
            backend.scatter_add(
                out, axis, _index(backend, [0, 0], (1, 2)), upload(backend, _f(1, 2))
            )


def _sort_scan_calls(backend, x, axis, values, indices):
    yield lambda: backend.sort(x, axis, False, values, indices)
    yield lambda: backend.scan("max", x, axis, values, indices)


def test_sort_and_scan_refuse_axes_outputs_and_dtypes_that_do_not_fit(backend):
    """Axes outside [0, ndim) (0-d x has none), outputs that are not compact, not of x's
    shape, of the wrong dtype or sharing a buffer: refused before anything is written."""
    x = upload(backend, _f(2, 3))
    values, indices = compact_out(backend, (2, 3), F32), compact_out(backend, (2, 3), "int64")
    transposed = Strided(values.buffer, (2, 3), (1, 2), 0, F32)
    bad = [
        (x, 2, values, indices), (x, -1, values, indices),
        (Strided(x.buffer, (), (), 0, F32), 0, values, indices),
        (x, 0, transposed, indices),
        (x, 0, compact_out(backend, (3, 2), F32), indices),
        (x, 0, values, compact_out(backend, (2, 3), F32)),
        (x, 0, compact_out(backend, (2, 3), "int64"), indices),
        (x, 0, Strided(x.buffer, (2, 3), (3, 1), 0, F32), indices),
    ]  # fmt: skip
    before = read(backend, values), read(backend, indices)
    for args in bad:
        for call in _sort_scan_calls(backend, *args):
            with pytest.raises(REFUSED):
                call()
    np.testing.assert_array_equal(read(backend, values), before[0])
    np.testing.assert_array_equal(read(backend, indices), before[1])


def _dtype_calls(backend, x: Strided, out: Strided) -> dict:
    """Kernels whose out must be of x's dtype, called with x and this out."""
    w = upload(backend, np.ones((3, 3)), x.dtype)
    calls = {
        "unary": lambda: backend.unary("exp", x, out),
        "binary": lambda: backend.binary("add", x, x, out),
        "scalar": lambda: backend.scalar("mul", x, 2.0, out, False),
        "reduce": lambda: backend.reduce("sum", x, (), out),
        "scan": lambda: backend.scan("sum", x, 1, out, None),
        "matmul": lambda: backend.matmul(x, w, out),
    }
    for name in ("softmax", "log_softmax"):
        kernel = getattr(backend, name, None)
        if kernel is not None:
            calls[name] = lambda kernel=kernel: kernel(x, out)
    return calls


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_outputs_of_another_dtype_are_refused(backend, dtype):
    """An out of another floating dtype than x is refused (a backend computing 16-bit floats
    on float32 copies must check the operands as given), and nothing is written."""
    need(backend, dtype)
    others = [d for d in FLOAT_DTYPES if d != dtype and d in backend.dtypes]
    if not others:
        pytest.skip(f"{backend.name} declares no other floating dtype than {dtype}")
    x = upload(backend, _f(2, 3), dtype)
    for other in others:
        out = compact_out(backend, (2, 3), other)
        for name, call in _dtype_calls(backend, x, out).items():
            with pytest.raises(TypeError):
                call()
            np.testing.assert_array_equal(read(backend, out), 7.25, err_msg=f"{name} {other}")


def test_scan_refuses_what_its_ops_do_not_take(backend):
    x, out = upload(backend, _f(2, 3)), compact_out(backend, (2, 3), F32)
    indices = compact_out(backend, (2, 3), "int64")
    with pytest.raises(ValueError):
        backend.scan("mean", x, 0, out, None)
    for op in ("sum", "prod", "logaddexp"):  # positions only for the running max and min
        with pytest.raises(ValueError):
            backend.scan(op, x, 0, out, indices)
    if "int64" in backend.dtypes:
        ints = upload(backend, np.arange(6, dtype=np.int64).reshape(2, 3), "int64")
        with pytest.raises(TypeError):
            backend.scan("logaddexp", ints, 0, compact_out(backend, (2, 3), "int64"), None)
    with pytest.raises(TypeError):
        backend.sort(x, 0, "yes", out, indices)


def test_scatter_add_refuses_a_src_smaller_than_index(backend):
    """torch's rule: index may not be larger than src on any dimension (it is not broadcast)."""
    out = compact_out(backend, (2, 3), F32)
    before = read(backend, out)
    with pytest.raises(ValueError):
        backend.scatter_add(out, 1, _index(backend, [0, 1, 2, 0, 1, 2], (2, 3)),
                            upload(backend, _f(2, 1)))  # fmt: skip
    np.testing.assert_array_equal(read(backend, out), before)


def test_scatter_add_uses_the_index_shaped_corner_of_a_larger_src(backend):
    out = upload(backend, np.zeros((2, 3), dtype=np.float32))
    src = _f(2, 4)
    backend.scatter_add(out, 1, _index(backend, [2, 0], (2, 1)), upload(backend, src))
    expected = np.zeros((2, 3), dtype=np.float32)
    expected[0, 2], expected[1, 0] = src[0, 0], src[1, 0]
    np.testing.assert_array_equal(read(backend, out), expected)


def test_gather_refuses_index_values_out_of_range(backend):
    x = upload(backend, _f(2, 3))
    for bad in (3, -1):
        out = compact_out(backend, (2, 1), F32)
        with pytest.raises(IndexError):
            backend.gather(x, 1, _index(backend, [0, bad], (2, 1)), out)


@pytest.mark.parametrize(  # fixed ids: an object's repr holds its address, which differs
    "value", [None, "1", 1j, object()], ids=["None", "str", "complex", "object"]
)  # between xdist workers and would stop the run ("Different tests were collected")
def test_scalar_and_fill_refuse_a_value_that_is_not_a_real_number(backend, value):
    a, out = upload(backend, _f(2, 3)), compact_out(backend, (2, 3), F32)
    before = read(backend, out)
    with pytest.raises(TypeError):
        backend.scalar("add", a, value, out, False)
    with pytest.raises(TypeError):
        backend.fill(out, value)
    np.testing.assert_array_equal(read(backend, out), before)


def test_int64_scalars_must_fit(backend):
    if "int64" not in backend.dtypes:
        pytest.skip(f"{backend.name} does not support int64")
    a = upload(backend, np.arange(3, dtype=np.int64), "int64")
    for value in (2**63, -(2**63) - 1, 2.5):
        with pytest.raises(ValueError):
            backend.scalar("add", a, value, compact_out(backend, (3,), "int64"), False)
        with pytest.raises(ValueError):
            backend.fill(compact_out(backend, (3,), "int64"), value)
    backend.scalar("add", a, -(2**63), out := compact_out(backend, (3,), "int64"), False)
    np.testing.assert_array_equal(read(backend, out), np.arange(3) + np.int64(-(2**63)))


def test_bool_bytes_other_than_0_and_1_are_true(backend):
    """A bool buffer made from bytes 0, 1, 2, 255 (a uint8 array viewed as bool) holds
    False, True, True, True: equal to True, and 1 as an integer. (Shared with copy=False,
    such bytes would reach kernels that compare bytes: the in-repo backends copy them.)"""
    raw = np.array([0, 1, 2, 255], dtype=np.uint8).view(np.bool_)
    true = upload(backend, np.ones(4, dtype=bool), "bool")
    for copy in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            buffer = backend.from_numpy(raw.copy(), copy=copy)
        x = Strided(buffer, (4,), (1,), 0, "bool")
        out = compact_out(backend, (4,), "bool")
        backend.binary("eq", x, true, out)
        np.testing.assert_array_equal(read(backend, out), [False, True, True, True])
        as_int = compact_out(backend, (4,), "int64") if "int64" in backend.dtypes else None
        if as_int is not None:
            backend.cast(x, as_int)
            np.testing.assert_array_equal(read(backend, as_int), [0, 1, 1, 1])
