"""`plugrad.array_api`, the Array API 2024.12 namespace: every name of the standard's function
list is there, the array object has the standard's attributes, and values match NumPy for a
representative selection of functions (on every installed device)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import plugrad
import plugrad.array_api as xp

# The 2024.12 standard's lists (https://data-apis.org/array-api/2024.12/API_specification/).
CONSTANTS = ("e", "inf", "nan", "newaxis", "pi")
CREATION = (
    "arange", "asarray", "empty", "empty_like", "eye", "from_dlpack", "full", "full_like",
    "linspace", "meshgrid", "ones", "ones_like", "tril", "triu", "zeros", "zeros_like",
)  # fmt: skip
DATA_TYPE_FUNCTIONS = ("astype", "can_cast", "finfo", "iinfo", "isdtype", "result_type")
ELEMENTWISE = (
    "abs", "acos", "acosh", "add", "asin", "asinh", "atan", "atan2", "atanh", "bitwise_and",
    "bitwise_left_shift", "bitwise_invert", "bitwise_or", "bitwise_right_shift", "bitwise_xor",
    "ceil", "clip", "conj", "copysign", "cos", "cosh", "divide", "equal", "exp", "expm1",
    "floor", "floor_divide", "greater", "greater_equal", "hypot", "imag", "isfinite", "isinf",
    "isnan", "less", "less_equal", "log", "log1p", "log2", "log10", "logaddexp", "logical_and",
    "logical_not", "logical_or", "logical_xor", "maximum", "minimum", "multiply", "negative",
    "nextafter", "not_equal", "positive", "pow", "real", "reciprocal", "remainder", "round",
    "sign", "signbit", "sin", "sinh", "square", "sqrt", "subtract", "tan", "tanh", "trunc",
)  # fmt: skip
INDEXING = ("take", "take_along_axis")
INSPECTION = ("__array_namespace_info__",)
LINEAR_ALGEBRA = ("matmul", "matrix_transpose", "tensordot", "vecdot")
MANIPULATION = (
    "broadcast_arrays", "broadcast_to", "concat", "expand_dims", "flip", "moveaxis",
    "permute_dims", "repeat", "reshape", "roll", "squeeze", "stack", "tile", "unstack",
)  # fmt: skip
SEARCHING = ("argmax", "argmin", "count_nonzero", "nonzero", "searchsorted", "where")
SET = ("unique_all", "unique_counts", "unique_inverse", "unique_values")
SORTING = ("argsort", "sort")
STATISTICAL = (
    "cumulative_prod", "cumulative_sum", "max", "mean", "min", "prod", "std", "sum", "var",
)  # fmt: skip
UTILITY = ("all", "any", "diff")
LINALG_EXTENSION = (
    "cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul", "matrix_norm",
    "matrix_power", "matrix_rank", "matrix_transpose", "outer", "pinv", "qr", "slogdet",
    "solve", "svd", "svdvals", "tensordot", "trace", "vecdot", "vector_norm",
)  # fmt: skip
INFO = ("capabilities", "default_device", "default_dtypes", "devices", "dtypes")
ARRAY_ATTRIBUTES = ("dtype", "device", "mT", "ndim", "shape", "T", "to_device",
                    "__array_namespace__", "__dlpack__", "__dlpack_device__")  # fmt: skip
ARRAY_OPERATORS = (
    "__abs__", "__add__", "__and__", "__bool__", "__eq__", "__float__", "__floordiv__",
    "__ge__", "__getitem__", "__gt__", "__index__", "__int__", "__invert__", "__le__",
    "__lshift__", "__lt__", "__matmul__", "__mod__", "__mul__", "__ne__", "__neg__", "__or__",
    "__pos__", "__pow__", "__rshift__", "__setitem__", "__sub__", "__truediv__", "__xor__",
    "__iadd__", "__isub__", "__imul__", "__itruediv__", "__ipow__", "__iand__", "__ior__",
    "__ixor__", "__ilshift__", "__irshift__", "__radd__", "__rsub__", "__rmul__",
    "__rtruediv__", "__rpow__", "__rand__", "__ror__", "__rxor__", "__rlshift__",
    "__rrshift__", "__rmatmul__", "__rfloordiv__", "__rmod__",
)  # fmt: skip

FUNCTIONS = (CREATION + DATA_TYPE_FUNCTIONS + ELEMENTWISE + INDEXING + INSPECTION
             + LINEAR_ALGEBRA + MANIPULATION + SEARCHING + SET + SORTING + STATISTICAL
             + UTILITY)  # fmt: skip


def test_namespace_is_the_module_and_states_its_version():
    x = plugrad.tensor([1.0, 2.0])
    assert x.__array_namespace__() is xp
    assert x.__array_namespace__(api_version="2024.12") is xp
    assert xp.__array_api_version__ == "2024.12"
    with pytest.raises(ValueError, match="2024.12"):
        x.__array_namespace__(api_version="2099.01")


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_is_present(name):
    assert callable(getattr(xp, name)), name


@pytest.mark.parametrize("name", LINALG_EXTENSION)
def test_linalg_function_is_present(name):
    assert callable(getattr(xp.linalg, name)), name


def test_constants():
    assert xp.e == math.e and xp.pi == math.pi and xp.inf == math.inf
    assert math.isnan(xp.nan) and xp.newaxis is None
    assert set(CONSTANTS) <= set(dir(xp))


@pytest.mark.parametrize("name", ARRAY_ATTRIBUTES + ARRAY_OPERATORS)
def test_array_object_has(name):
    assert hasattr(plugrad.Tensor, name), name


def test_every_listed_name_is_exported():
    assert set(FUNCTIONS) | set(CONSTANTS) | {"linalg"} <= set(xp.__all__)


def test_array_api_compat_recognises_plugrad_arrays():
    array_api_compat = pytest.importorskip("array_api_compat")
    x = plugrad.tensor([1.0, 2.0])
    assert array_api_compat.array_namespace(x) is xp
    assert array_api_compat.array_namespace(x, x * 2) is xp
    assert array_api_compat.is_array_api_obj(x)
    assert array_api_compat.device(x) == x.device


# --- inspection --------------------------------------------------------------------------
def test_info():
    info = xp.__array_namespace_info__()
    assert all(callable(getattr(info, name)) for name in INFO)
    caps = info.capabilities()
    assert caps["boolean indexing"] and caps["data-dependent shapes"]
    assert info.default_device() == plugrad.get_default_device()
    assert plugrad.get_default_device() in info.devices()
    defaults = info.default_dtypes()
    assert defaults["real floating"] is xp.float64
    assert defaults["integral"] is xp.int64 and defaults["indexing"] is xp.int64
    # the standard's dtypes the default device holds (float16 and bfloat16 are not in it)
    standard = ("bool", "int8", "int16", "int32", "int64", "uint8", "float32", "float64")
    held = [name for name in standard if name in plugrad.get_default_device().backend.dtypes]
    assert info.dtypes() == {name: getattr(xp, name) for name in held}
    assert set(info.dtypes(kind="real floating")) == {"float32", "float64"}
    integral = {n for n in held if n.startswith(("int", "uint"))}
    assert set(info.dtypes(kind=("bool", "integral"))) == {"bool", *integral}
    assert set(info.dtypes(kind="unsigned integer")) == {n for n in held if n.startswith("u")}
    if "cuda" in plugrad.available_devices():  # a device holding fewer lists fewer
        on_cuda = set(info.dtypes(device="cuda"))
        assert on_cuda == {n for n in standard if n in plugrad.device("cuda").backend.dtypes}


def test_data_type_functions():
    assert xp.isdtype(xp.float32, "real floating") and not xp.isdtype(xp.int64, "real floating")
    assert xp.isdtype(xp.int64, ("bool", "signed integer")) and xp.isdtype(xp.bool, xp.bool)
    assert xp.isdtype(xp.float64, "numeric") and not xp.isdtype(xp.bool, "numeric")
    assert xp.result_type(xp.float32, xp.float64) is xp.float64
    assert xp.result_type(xp.int64, xp.bool) is xp.int64
    assert xp.result_type(xp.asarray([1, 2]), 1.5) is xp.float32  # plugrad's scalar promotion
    assert xp.can_cast(xp.float32, xp.float64) and not xp.can_cast(xp.float64, xp.float32)
    assert xp.can_cast(xp.bool, xp.int64) and not xp.can_cast(xp.int64, xp.float64)
    f = xp.finfo(xp.float32)
    assert f.eps == np.finfo(np.float32).eps and f.bits == 32 and f.dtype is xp.float32
    assert f.smallest_normal == np.finfo(np.float32).smallest_normal
    i = xp.iinfo(xp.int64)
    assert (i.min, i.max, i.bits) == (-(2**63), 2**63 - 1, 64)


# --- the array object --------------------------------------------------------------------
def test_device_and_to_device(device):
    x = xp.asarray([1.0, 2.0], device=device)
    assert x.device == plugrad.device(device)
    assert x.to_device(x.device) is x
    moved = x.to_device("numpy_ref")
    assert moved.device == plugrad.device("numpy_ref") and moved.tolist() == [1.0, 2.0]
    assert xp.zeros(3, device=x.device).device == x.device


def test_mT_and_matrix_transpose():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = xp.asarray(a)
    np.testing.assert_array_equal(x.mT.numpy(), np.swapaxes(a, -1, -2))
    np.testing.assert_array_equal(xp.matrix_transpose(x).numpy(), np.swapaxes(a, -1, -2))


def test_asarray_dtypes_and_copy():
    assert xp.asarray([1.0, 2.0]).dtype is xp.float64  # the namespace's default float
    assert xp.asarray(1.5).dtype is xp.float64 and xp.asarray(3).dtype is xp.int64
    assert xp.asarray([True]).dtype is xp.bool
    assert xp.asarray(np.float32([1])).dtype is xp.float32
    assert xp.asarray([1, 2], dtype=xp.float32).dtype is xp.float32
    x = xp.asarray([1.0, 2.0])
    assert xp.asarray(x) is x
    copied = xp.asarray(x, copy=True)
    copied[0] = 9.0
    assert x.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="copy"):
        xp.asarray(x, dtype=xp.float32, copy=False)
    with pytest.raises(ValueError, match="copy"):
        xp.asarray([1.0], copy=False)
    host = np.array([1.0, 2.0])
    if plugrad.get_default_device().is_host:
        shared = xp.asarray(host, copy=False)
        host[0] = 7.0
        assert shared.tolist() == [7.0, 2.0]
    assert xp.asarray([xp.asarray(1.0), xp.asarray(2.0)]).tolist() == [1.0, 2.0]


def test_astype_copy_semantics():
    x = xp.asarray([1.5, -2.5])
    assert xp.astype(x, xp.float64, copy=False) is x
    y = xp.astype(x, xp.float64)
    assert y is not x and y.tolist() == x.tolist()
    assert xp.astype(x, xp.int64).tolist() == [1, -2]
    assert xp.astype(x, xp.float32, device="numpy_ref").device == plugrad.device("numpy_ref")


# --- values against NumPy ----------------------------------------------------------------
RNG = np.random.default_rng(12)
A = RNG.normal(size=(3, 4))
INF, NAN = math.inf, math.nan
B = RNG.normal(size=(4,))
POS = RNG.uniform(0.5, 2.0, size=(3, 4))
INTS = RNG.integers(-20, 20, size=(3, 4))
SYM = A @ A.T + 3 * np.eye(3)

# (name, args as NumPy arrays or scalars, kwargs, the NumPy oracle)
CASES = [
    ("add", (A, B), {}, np.add),
    ("add", (A, 2.5), {}, np.add),
    ("subtract", (1, A), {}, np.subtract),
    ("divide", (A, POS), {}, np.divide),
    ("pow", (POS, A), {}, np.power),
    ("multiply", (INTS, 3), {}, np.multiply),
    ("floor_divide", (INTS, 3), {}, np.floor_divide),
    ("remainder", (INTS, 7), {}, np.remainder),
    ("exp", (A,), {}, np.exp),
    ("log", (POS,), {}, np.log),
    ("log1p", (POS,), {}, np.log1p),
    ("sqrt", (POS,), {}, np.sqrt),
    ("tan", (A,), {}, np.tan),
    ("tanh", (A,), {}, np.tanh),
    ("atan2", (A, B), {}, np.arctan2),
    ("hypot", (A, B), {}, np.hypot),
    ("logaddexp", (A, B), {}, np.logaddexp),
    ("copysign", (POS, A), {}, np.copysign),
    ("signbit", (A,), {}, np.signbit),
    ("nextafter", (A, B), {}, np.nextafter),
    ("round", (A * 3,), {}, np.round),
    ("trunc", (A * 3,), {}, np.trunc),
    ("sign", (A,), {}, np.sign),
    ("abs", (INTS,), {}, np.abs),
    ("negative", (A,), {}, np.negative),
    ("square", (A,), {}, np.square),
    ("reciprocal", (POS,), {}, np.reciprocal),
    ("clip", (A,), {"min": -0.5, "max": 0.5}, np.clip),
    ("maximum", (A, B), {}, np.maximum),
    ("less", (A, B), {}, np.less),
    ("equal", (INTS, 3), {}, np.equal),
    ("logical_and", (A > 0, B > 0), {}, np.logical_and),
    ("logical_xor", (A > 0, B > 0), {}, np.logical_xor),
    ("logical_not", (A > 0,), {}, np.logical_not),
    ("bitwise_and", (INTS, 6), {}, np.bitwise_and),
    ("bitwise_xor", (INTS, INTS.T[:1].T), {}, np.bitwise_xor),
    ("bitwise_invert", (INTS,), {}, np.invert),
    ("bitwise_left_shift", (INTS, 3), {}, np.left_shift),
    ("bitwise_right_shift", (INTS, 2), {}, np.right_shift),
    ("isnan", (np.array([1.0, np.nan]),), {}, np.isnan),
    ("sum", (A,), {"axis": 1}, lambda x, axis: np.sum(x, axis=axis)),
    (
        "sum",
        (INTS,),
        {"axis": (0, 1), "keepdims": True},
        lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims),
    ),
    ("prod", (POS,), {"axis": 0}, lambda x, axis: np.prod(x, axis=axis)),
    ("mean", (A,), {"axis": -1}, lambda x, axis: np.mean(x, axis=axis)),
    (
        "max",
        (A,),
        {"axis": 0, "keepdims": True},
        lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims),
    ),
    ("min", (A,), {}, np.min),
    ("var", (A,), {"axis": 0}, lambda x, axis: np.var(x, axis=axis)),
    ("var", (A,), {"correction": 1}, lambda x, correction: np.var(x, ddof=correction)),
    (
        "std",
        (A,),
        {"axis": 1, "correction": 1},
        lambda x, axis, correction: np.std(x, axis=axis, ddof=correction),
    ),
    ("cumulative_sum", (A,), {"axis": 1}, lambda x, axis: np.cumsum(x, axis=axis)),
    (
        "cumulative_sum",
        (B,),
        {"include_initial": True},
        lambda x, include_initial: np.concatenate([[0.0], np.cumsum(x)]),
    ),
    ("cumulative_prod", (POS,), {"axis": 0}, lambda x, axis: np.cumprod(x, axis=axis)),
    ("argmax", (A,), {"axis": 1}, lambda x, axis: np.argmax(x, axis=axis)),
    ("argmin", (A,), {}, np.argmin),
    ("count_nonzero", (INTS,), {"axis": 0}, lambda x, axis: np.count_nonzero(x, axis=axis)),
    ("searchsorted", (np.sort(B), A), {}, np.searchsorted),
    (
        "searchsorted",
        (np.sort(B), A),
        {"side": "right"},
        lambda x, v, side: np.searchsorted(x, v, side=side),
    ),
    ("where", (A > 0, A, 0.0), {}, np.where),
    ("sort", (A,), {"axis": 0}, lambda x, axis: np.sort(x, axis=axis)),
    ("sort", (A,), {"descending": True}, lambda x, descending: -np.sort(-x)),
    ("argsort", (INTS,), {}, lambda x: np.argsort(x, kind="stable")),
    ("unique_values", (INTS,), {}, np.unique),
    ("concat", ([A, A],), {"axis": 1}, lambda xs, axis: np.concatenate(xs, axis=axis)),
    ("concat", ([A, B],), {"axis": None}, lambda xs, axis: np.concatenate(xs, axis=None)),
    ("stack", ([A, A],), {"axis": -1}, lambda xs, axis: np.stack(xs, axis=axis)),
    ("expand_dims", (A,), {"axis": -1}, lambda x, axis: np.expand_dims(x, axis)),
    ("flip", (A,), {}, np.flip),
    ("flip", (A,), {"axis": 1}, lambda x, axis: np.flip(x, axis)),
    ("moveaxis", (A[None], 0, -1), {}, np.moveaxis),
    ("permute_dims", (A,), {"axes": (1, 0)}, lambda x, axes: np.transpose(x, axes)),
    ("repeat", (A, 2), {"axis": 0}, None),
    ("reshape", (A,), {"shape": (2, -1)}, lambda x, shape: np.reshape(x, shape)),
    ("roll", (A,), {"shift": 2, "axis": 1}, lambda x, shift, axis: np.roll(x, shift, axis)),
    ("roll", (A,), {"shift": -3}, lambda x, shift: np.roll(x, shift)),
    ("squeeze", (A[:, None],), {"axis": 1}, lambda x, axis: np.squeeze(x, axis)),
    ("tile", (B, (2, 2)), {}, np.tile),
    ("all", (INTS,), {"axis": 1}, lambda x, axis: np.all(x, axis=axis)),
    ("any", (A > 1,), {}, np.any),
    ("diff", (A,), {}, np.diff),
    ("diff", (A,), {"axis": 0, "n": 2}, lambda x, axis, n: np.diff(x, n=n, axis=axis)),
    ("take", (A, np.array([2, 0])), {"axis": 1}, lambda x, i, axis: np.take(x, i, axis=axis)),
    (
        "take_along_axis",
        (A, np.argsort(A, axis=1)),
        {"axis": 1},
        lambda x, i, axis: np.take_along_axis(x, i, axis=axis),
    ),
    ("matmul", (A, A.T), {}, np.matmul),
    ("tensordot", (A, A), {"axes": ([1], [1])}, lambda a, b, axes: np.tensordot(a, b, axes)),
    ("vecdot", (A, B), {}, lambda a, b: np.sum(a * b, axis=-1)),
    ("tril", (A,), {"k": 1}, lambda x, k: np.tril(x, k)),
    ("triu", (A,), {}, np.triu),
]
LINALG_CASES = [
    ("cholesky", (SYM,), {}, np.linalg.cholesky),
    ("det", (SYM,), {}, np.linalg.det),
    ("inv", (SYM,), {}, np.linalg.inv),
    ("solve", (SYM, A), {}, np.linalg.solve),
    ("eigvalsh", (SYM,), {}, np.linalg.eigvalsh),
    ("svdvals", (A,), {}, lambda x: np.linalg.svd(x, compute_uv=False)),
    ("pinv", (A,), {}, np.linalg.pinv),
    ("matrix_rank", (A,), {}, np.linalg.matrix_rank),
    ("matrix_power", (SYM, 3), {}, np.linalg.matrix_power),
    ("matrix_norm", (A,), {}, np.linalg.norm),
    ("matrix_norm", (A,), {"ord": 2}, lambda x, ord: np.linalg.norm(x, ord)),
    ("vector_norm", (A,), {"axis": 1, "ord": 1}, lambda x, axis, ord: np.linalg.norm(x, ord, axis)),
    ("vector_norm", (A,), {}, lambda x: np.linalg.norm(x.reshape(-1))),
    ("trace", (SYM,), {}, np.trace),
    ("diagonal", (A,), {"offset": 1}, lambda x, offset: np.diagonal(x, offset)),
    ("outer", (B, B), {}, np.outer),
    ("cross", (A[:, :3], A[:, 1:]), {}, np.cross),
]


def _to(value, device):
    if isinstance(value, np.ndarray):
        return xp.asarray(value, device=device)
    if isinstance(value, list):
        return [_to(v, device) for v in value]
    return value


def _check(got, want):
    got = got.numpy() if hasattr(got, "numpy") else np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    else:
        np.testing.assert_array_equal(got, want)


def _run(namespace, case, device):
    name, args, kwargs, oracle = case
    got = getattr(namespace, name)(*(_to(a, device) for a in args), **kwargs)
    if oracle is None:
        return
    _check(got, oracle(*args, **kwargs))


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_values_match_numpy(case, device):
    _run(xp, case, device)


@pytest.mark.parametrize("case", LINALG_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(LINALG_CASES)])  # fmt: skip
def test_linalg_values_match_numpy(case, device):
    _run(xp.linalg, case, device)


def test_decompositions_reconstruct(device):
    a = xp.asarray(A, device=device)
    u, s, vh = xp.linalg.svd(a, full_matrices=False)
    np.testing.assert_allclose(((u * s[None, :]) @ vh).numpy(), A, atol=1e-12)
    q, r = xp.linalg.qr(a.mT)
    np.testing.assert_allclose((q @ r).numpy(), A.T, atol=1e-12)
    w, v = xp.linalg.eigh(xp.asarray(SYM, device=device))
    np.testing.assert_allclose(w.numpy(), np.linalg.eigvalsh(SYM), rtol=1e-10)
    np.testing.assert_allclose((v @ xp.linalg.diagonal(xp.eye(3) * w) @ v.mT).numpy()
                               if False else (v * w) @ v.mT.numpy(), SYM, atol=1e-10)  # fmt: skip
    sign, logabs = xp.linalg.slogdet(xp.asarray(SYM, device=device))
    assert float(sign) == 1.0 and math.isclose(float(logabs), math.log(np.linalg.det(SYM)))


def test_set_functions(device):
    values = np.array([3, 1, 3, 2, 1, 3])
    x = xp.asarray(values, device=device)
    u, index, inverse, counts = np.unique(values, return_index=True, return_inverse=True,
                                          return_counts=True)  # fmt: skip
    result = xp.unique_all(x)
    _check(result.values, u)
    _check(result.indices, index)
    _check(result.inverse_indices, inverse.reshape(values.shape))
    _check(result.counts, counts)
    assert xp.unique_counts(x).counts.tolist() == counts.tolist()
    assert xp.unique_inverse(x).inverse_indices.tolist() == inverse.reshape(-1).tolist()


def test_manipulation_lists(device):
    a = xp.asarray(A, device=device)
    parts = xp.unstack(a, axis=1)
    assert len(parts) == 4 and parts[2].tolist() == A[:, 2].tolist()
    x, y = xp.broadcast_arrays(a, xp.asarray(B, device=device))
    assert x.shape == y.shape == (3, 4)
    gx, gy = xp.meshgrid(xp.arange(3, device=device), xp.arange(2, device=device))
    nx, ny = np.meshgrid(np.arange(3), np.arange(2))
    _check(gx, nx)
    _check(gy, ny)
    assert [t.tolist() for t in xp.nonzero(xp.asarray(INTS > 0, device=device))] == [
        t.tolist() for t in np.nonzero(INTS > 0)
    ]
    with pytest.raises(ValueError, match="size 4"):
        xp.squeeze(a, axis=1)
    with pytest.raises(ValueError, match="copy=False"):
        xp.reshape(a.mT, (12,), copy=False)
    _check(xp.repeat(xp.asarray(B, device=device), 2), np.repeat(B, 2))


def test_creation_values(device):
    _check(xp.arange(1, 10, 3, device=device), np.arange(1, 10, 3))
    assert xp.arange(0.0, 1.0, 0.25).dtype is xp.float64
    _check(xp.linspace(0, 1, 5, device=device), np.linspace(0, 1, 5))
    _check(xp.linspace(0, 1, 4, endpoint=False), np.linspace(0, 1, 4, endpoint=False))
    _check(xp.eye(3, 4, k=1, device=device), np.eye(3, 4, k=1))
    _check(xp.full((2, 2), 7, device=device), np.full((2, 2), 7))
    assert xp.full((2,), 1.5).dtype is xp.float64 and xp.ones(2).dtype is xp.float64
    assert xp.zeros((2, 3), dtype=xp.int64).dtype is xp.int64
    a = xp.asarray(A, device=device)
    assert xp.zeros_like(a).shape == a.shape and xp.ones_like(a, dtype=xp.int64).dtype is xp.int64
    assert xp.full_like(a, 2.0).tolist() == np.full_like(A, 2.0).tolist()
    assert xp.empty((2, 0)).shape == (2, 0) and xp.empty_like(a).shape == a.shape


def test_array_api_compat_helpers():
    array_api_compat = pytest.importorskip("array_api_compat")
    x = xp.asarray(A)
    assert array_api_compat.size(x) == 12
    assert array_api_compat.to_device(x, x.device) is x


def test_unique_inverse_of_a_0d_array_keeps_its_shape():
    """inverse_indices has x's shape, () for a 0-d x (the official array-api-tests found it)."""
    values, inverse = xp.unique_inverse(xp.asarray(False))
    assert inverse.shape == () and values.tolist() == [False] and inverse.tolist() == 0
    values, indices, inverse, counts = xp.unique_all(xp.asarray(3.0))
    want = np.unique(np.asarray(3.0), return_index=True, return_inverse=True, return_counts=True)
    assert [values.tolist(), indices.tolist(), counts.tolist()] == [
        want[0].tolist(),
        want[1].tolist(),
        want[3].tolist(),
    ]
    assert inverse.shape == want[2].shape == () and inverse.tolist() == 0


def test_remainder_follows_the_standard_at_zeros_and_infinities(device):
    """xp.remainder is NumPy's (Python's %): a zero result has x2's sign (torch's, which
    plugrad.remainder and % follow, has x1's), a finite x1 over an infinite x2 is x1 or x2."""
    a = [0.0, -0.0, 0.0, -0.0, 4.0, -4.0, 3.0, 3.0, -3.0, -3.0, 5.0, -5.0, 0.0, INF, NAN]
    b = [-2.0, -2.0, 2.0, 2.0, -2.0, 2.0, INF, -INF, INF, -INF, 3.0, 3.0, -INF, 2.0, 1.0]
    for dtype in (xp.float32, xp.float64):
        x1 = xp.asarray(a, dtype=dtype, device=device)
        got = xp.remainder(x1, xp.asarray(b, dtype=dtype, device=device))
        want = np.remainder(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        assert got.dtype is dtype
        got = np.asarray(got.tolist())
        assert np.array_equal(got, want, equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(want))
    assert xp.remainder(xp.asarray([5, -5], device=device), 3).tolist() == [2, 1]
    assert xp.remainder(-0.0, xp.asarray([-2.0], device=device)).tolist() == [-0.0]
    assert math.copysign(1, xp.remainder(0.0, xp.asarray([-2.0], device=device)).tolist()[0]) == -1


@pytest.mark.parametrize("name", ["sum", "prod", "cumulative_sum", "cumulative_prod"])
def test_accumulations_honour_dtype(device, name):
    """An explicit dtype is the result's (uint8 wraps, as NumPy's); with none, an integer x
    gives int64 (the default integer; plugrad has no default unsigned one), a float x its own."""
    a = np.array([200, 100, 7], dtype=np.uint8)
    fn, np_fn = getattr(xp, name), getattr(np, name.replace("ulative_", ""))
    x = xp.asarray(a, device=device)
    got = fn(x, dtype=xp.uint8)
    assert got.dtype is xp.uint8 and got.tolist() == np_fn(a, dtype=np.uint8).tolist()
    got = fn(x)
    assert got.dtype is xp.int64 and got.tolist() == np_fn(a.astype(np.int64)).tolist()
    small = xp.asarray([100, 100], dtype=xp.int8, device=device)
    assert fn(small, dtype=xp.int8).tolist() == np_fn(np.int8([100, 100]), dtype=np.int8).tolist()
    assert fn(xp.asarray([1.5, 2.0], dtype=xp.float32, device=device)).dtype is xp.float32
    assert fn(x, dtype=xp.float64).dtype is xp.float64


def test_integer_vecdot_and_tensordot_keep_the_promoted_dtype(device):
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 255, size=(3, 4), dtype=np.uint8), rng.integers(0, 255, size=(4, 2))
    b = b.astype(np.uint8)
    x1, x2 = xp.asarray(a, device=device), xp.asarray(b, device=device)
    out = xp.tensordot(x1, x2, axes=1)
    want = np.tensordot(a, b, axes=1)
    assert out.dtype is xp.uint8 and want.dtype == np.uint8 and out.tolist() == want.tolist()
    out = xp.vecdot(x1, x1)
    want = (a * a).sum(-1, dtype=np.uint8)  # NumPy's vecdot of uint8 is uint8 too
    assert out.dtype is xp.uint8 and out.tolist() == want.tolist()
    mixed = xp.vecdot(xp.asarray([1, 2], dtype=xp.int8, device=device),
                      xp.asarray([3, 4], dtype=xp.int16, device=device))  # fmt: skip
    assert mixed.dtype is xp.int16 and mixed.tolist() == 11


@pytest.mark.parametrize(
    "name", ["add", "subtract", "multiply", "divide", "greater", "not_equal", "bitwise_or",
             "bitwise_left_shift", "logaddexp", "maximum", "atan2", "pow"],
)  # fmt: skip
def test_binary_functions_promote_a_0d_array_as_any_other(device, name):
    """The standard promotes whatever the ranks (NumPy 2 too): int8 with a 0-d int16 is int16
    (torch's rule, plugrad's operators', would give int8 and wrap 300 to 44)."""
    floating = name in ("divide", "logaddexp", "atan2")
    pairs = (
        [(np.float32, np.float64, [1.5, -2.0], 3.25)]
        if floating
        else [(np.int8, np.int16, [1, 5], 300), (np.int16, np.int8, [300, -2], 3)]
    )
    np_name = {"atan2": "arctan2", "bitwise_left_shift": "left_shift", "pow": "power"}
    for small, wide, values, scalar in pairs:
        a, b = np.asarray(values, dtype=small), np.asarray(scalar, dtype=wide)
        if name in ("bitwise_left_shift", "pow"):  # (no overflow, no negative exponents)
            a, b = np.asarray([1, 2], dtype=small), np.asarray(2, dtype=wide)
        want = getattr(np, np_name.get(name, name))(a, b)
        for x1, x2, w in ((a, b, want), (b, a, getattr(np, np_name.get(name, name))(b, a))):
            got = getattr(xp, name)(xp.asarray(x1, device=device), xp.asarray(x2, device=device))
            assert str(got.dtype).split(".")[-1] == str(w.dtype), (name, x1.dtype, x2.dtype)
            np.testing.assert_allclose(np.asarray(got.tolist()), w, rtol=1e-6)


def test_take_counts_negative_indices_from_the_end(device):
    """The standard's take accepts indices in [-n, n) of any integer dtype (NumPy's take)."""
    a = np.arange(12.0).reshape(3, 4)
    x = xp.asarray(a, device=device)
    for dtype in (xp.int8, xp.int16, xp.int32, xp.int64):
        idx = xp.asarray([0, -1, -4, 2], dtype=dtype, device=device)
        assert xp.take(x, idx, axis=1).tolist() == np.take(a, [0, -1, -4, 2], axis=1).tolist()
        assert xp.take(x, idx[:2], axis=-2).tolist() == np.take(a, [0, -1], axis=0).tolist()
    assert xp.take(
        xp.asarray([True, False], device=device), xp.asarray([-1], device=device)
    ).tolist() == [False]


@pytest.mark.parametrize(
    "shapes", [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)),
               ((2, 1, 3, 4), (5, 4, 2)), ((5, 3, 4), (4,))],
)  # fmt: skip
def test_integer_matmul_matches_numpy(device, shapes):
    rng = np.random.default_rng(2)
    a = rng.integers(0, 255, size=shapes[0]).astype(np.uint8)
    b = rng.integers(-128, 127, size=shapes[1]).astype(np.int8)
    for x1, x2 in ((a, b), (a, a.T if a.ndim == 2 else a), (b.astype(np.int64), b)):
        if x1.shape[-1] != x2.shape[-2 if x2.ndim > 1 else 0]:
            continue
        got = xp.matmul(xp.asarray(x1, device=device), xp.asarray(x2, device=device))
        want = np.matmul(x1, x2)
        assert got.shape == want.shape and str(got.dtype).split(".")[-1] == str(want.dtype)
        assert np.array_equal(np.asarray(got.tolist()), want)
    with pytest.raises(ValueError):
        xp.matmul(xp.asarray(a, device=device), xp.asarray(np.uint8(3), device=device))
