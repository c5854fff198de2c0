"""Issue 12's shape and linear-algebra names exist under torch's names: the functions with
torch's parameters (names, order and defaults, less `out=`), the Tensor methods, and the
torch.linalg namespace. A name that goes missing or drifts from torch fails here."""

from __future__ import annotations

import ast
import inspect

import pytest

import plugrad
import plugrad.linalg

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)

FUNCTIONS = [
    "tile", "repeat_interleave", "roll", "unbind", "movedim", "moveaxis", "swapaxes",
    "swapdims", "narrow", "unflatten", "tril", "triu", "diag", "diag_embed", "diagonal",
    "trace", "outer", "meshgrid", "einsum", "tensordot", "kron", "det", "inverse", "slogdet",
    "logdet", "cholesky", "qr", "svd", "pinverse", "matrix_power",
]  # fmt: skip
METHODS = [
    "repeat", "tile", "repeat_interleave", "roll", "unbind", "movedim", "moveaxis", "swapaxes",
    "swapdims", "narrow", "unflatten", "expand_as", "view_as", "reshape_as", "tril", "triu",
    "tril_", "triu_", "diag", "diag_embed", "diagonal", "trace", "outer", "kron", "det",
    "inverse", "slogdet", "logdet", "cholesky", "qr", "svd", "pinverse", "matrix_power",
]  # fmt: skip
LINALG = [
    "solve", "solve_triangular", "inv", "det", "slogdet", "cholesky", "qr", "svd", "svdvals",
    "eigh", "eigvalsh", "lstsq", "pinv", "matrix_norm", "vector_norm", "norm", "matrix_power",
    "matmul", "diagonal", "vecdot", "cross", "multi_dot", "matrix_rank",
]  # fmt: skip
NOT_SUPPORTED = {"out"}  # plugrad returns new tensors


def _split(text: str) -> list[str]:
    """Top-level comma-separated items of a parameter list (defaults may hold tuples)."""
    items, depth, current = [], 0, ""
    for char in text:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    return [i.strip() for i in items + [current] if i.strip()]


def documented(obj) -> list[tuple[str, object]]:
    """(name, default or inspect.Parameter.empty) from a torch builtin's first doc line."""
    line = obj.__doc__.strip().splitlines()[0]
    inner = line[line.index("(") + 1 : line.rindex(")", 0, line.index("->") if "->" in line
                                                   else len(line))]  # fmt: skip
    params = []
    for item in _split(inner):
        if item == "*":
            continue
        name, _, default = item.partition("=")
        name = name.split(":")[0].strip().lstrip("*")
        value = inspect.Parameter.empty
        if default.strip():
            try:
                value = ast.literal_eval(default.strip())
            except ValueError:
                value = default.strip()
        params.append((name, value))
    return params


def parameters(obj) -> list[tuple[str, object]]:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return documented(obj)
    return [(p.name, p.default) for p in signature.parameters.values() if p.name != "self"]


def check_parameters(ours, theirs) -> None:
    expected = [(n, d) for n, d in parameters(theirs) if n not in NOT_SUPPORTED]
    got = parameters(ours)
    assert [n for n, _ in got] == [n for n, _ in expected]
    for (name, default), (_, their_default) in zip(got, expected):
        if their_default is not inspect.Parameter.empty:
            assert default == their_default, f"default of {name}: {default!r}, torch's " \
                                             f"{their_default!r}"  # fmt: skip


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_has_torchs_parameters(name):
    check_parameters(getattr(plugrad, name), getattr(torch, name))


@pytest.mark.parametrize("name", LINALG)
def test_linalg_function_has_torchs_parameters(name):
    check_parameters(getattr(plugrad.linalg, name), getattr(torch.linalg, name))


@pytest.mark.parametrize("name", METHODS)
def test_method_exists(name):
    assert hasattr(torch.Tensor, name)
    assert callable(getattr(plugrad.Tensor, name))


def test_linalg_error_and_result_fields():
    assert issubclass(plugrad.linalg.LinAlgError, RuntimeError)
    assert issubclass(torch.linalg.LinAlgError, RuntimeError)
    a = torch.eye(2)
    assert plugrad.linalg.QR._fields == ("Q", "R") == tuple(
        n for n in dir(torch.linalg.qr(a)) if n in ("Q", "R"))  # fmt: skip
    assert plugrad.linalg.SVD._fields == ("U", "S", "Vh")
    assert plugrad.linalg.EighResult._fields == ("eigenvalues", "eigenvectors")
    assert plugrad.linalg.SlogdetResult._fields == ("sign", "logabsdet")
    assert plugrad.linalg.LstsqResult._fields == (
        "solution", "residuals", "rank", "singular_values")  # fmt: skip
    result = torch.linalg.lstsq(a, a)
    assert all(hasattr(result, f) for f in plugrad.linalg.LstsqResult._fields)
