"""einsum with torch's syntax against torch on every device: explicit and implicit outputs,
ellipses, repeated subscripts (diagonals), broadcasting, the sublist format; values and
gradients in float64, values in float32 and int64."""

from __future__ import annotations

import numpy as np
import pytest
from torch_oracle import compare, random

import plugrad

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)

EQUATIONS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),  # matmul
    ("ij,jk", [(2, 3), (3, 4)]),  # implicit output
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),  # batched matmul
    ("ij->ji", [(2, 3)]),  # transpose
    ("ba", [(2, 3)]),  # implicit output sorts: 'ab', a transpose
    ("ii->i", [(3, 3)]),  # diagonal
    ("ii", [(3, 3)]),  # trace
    ("iij->j", [(3, 3, 2)]),
    ("ij->", [(2, 3)]),  # total sum
    ("ij->j", [(2, 3)]),  # column sums
    ("i,i->", [(4,), (4,)]),  # dot
    ("i,j->ij", [(3,), (4,)]),  # outer
    ("i,i->i", [(4,), (4,)]),  # elementwise
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),  # broadcast batch dims
    ("...ii->...i", [(2, 3, 3)]),  # batched diagonals
    ("i...->...", [(3, 2, 4)]),
    ("...ij->ij", [(2, 3, 4)]),  # an ellipsis left out of the output is summed
    ("b...,b...->...", [(2, 3), (2, 3)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),  # bilinear, three operands
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ij,ij->ij", [(2, 1), (1, 3)]),  # size-1 dims broadcast
    ("i,i->", [(1,), (3,)]),  # a broadcast summed subscript
    ("Ab,bA->", [(2, 3), (3, 2)]),  # upper-case subscripts
    ("ijk,kji->", [(2, 3, 4), (4, 3, 2)]),
    (",ij->ij", [(), (2, 3)]),  # a 0-d operand
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),  # attention scores
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("equation,shapes", EQUATIONS, ids=[e for e, _ in EQUATIONS])
def test_matches_torch(device, equation, shapes, dtype):
    arrays = [random(s, seed=i) for i, s in enumerate(shapes)]
    compare(torch, device, lambda *x: plugrad.einsum(equation, *x),
            lambda *x: torch.einsum(equation, *x), arrays, dtype=dtype,
            grad=dtype == "float64")  # fmt: skip


def test_operands_may_come_as_a_list(device):
    a, b = random((2, 3)), random((3, 2), seed=1)
    compare(torch, device, lambda x, y: plugrad.einsum("ij,jk", [x, y]),
            lambda x, y: torch.einsum("ij,jk", [x, y]), [a, b])  # fmt: skip


def test_sublist_format(device):
    a, b = random((2, 3, 4)), random((4, 5), seed=1)
    compare(torch, device, lambda x, y: plugrad.einsum(x, [0, 1, 2], y, [2, 3], [3, 0]),
            lambda x, y: torch.einsum(x, [0, 1, 2], y, [2, 3], [3, 0]), [a, b])  # fmt: skip
    compare(torch, device, lambda x: plugrad.einsum(x, [..., 1]),
            lambda x: torch.einsum(x, [..., 1]), [a])  # fmt: skip


@pytest.mark.parametrize("equation", ["ij,jk->ik", "ii->i", "ij->j", "i,j->ij"])
def test_integer_operands(device, equation):
    shapes = {"ij,jk->ik": [(2, 3), (3, 2)], "ii->i": [(3, 3)], "ij->j": [(2, 3)],
              "i,j->ij": [(2,), (3,)]}[equation]  # fmt: skip
    arrays = [np.arange(np.prod(s), dtype=np.int64).reshape(s) - 2 for s in shapes]
    compare(torch, device, lambda *x: plugrad.einsum(equation, *x),
            lambda *x: torch.einsum(equation, *x), arrays)  # fmt: skip


def test_diagonal_operand_is_a_view(device):
    x = plugrad.zeros(3, 3, device=device)
    d = plugrad.einsum("ii->i", x)
    assert d.array.buffer is x.array.buffer


def test_gradcheck_through_a_three_operand_contraction(device):
    from plugrad.autograd import gradcheck

    xs = [plugrad.tensor(random(s, seed=i), dtype="float64", device=device, requires_grad=True)
          for i, s in enumerate([(2, 3), (3, 3, 2), (2,)])]  # fmt: skip
    assert gradcheck(lambda a, b, c: plugrad.einsum("ij,jkl,l->ik", a, b, c), xs)


@pytest.mark.parametrize(
    "equation, shapes, words",
    [
        ("ij,jk", [(2, 3), (2, 3)], "subscript j has size 2 for operand 1"),
        ("ii", [(2, 3)], "subscript i is repeated for operand 0 but the sizes don't match"),
        ("ij", [(2, 3, 4)], "has 2 subscripts, but the operand has 3 dimensions"),
        ("ij,jk", [(2, 3)], "2 operand terms, but 1 operands"),
        ("ij->k", [(2, 3)], "output subscript k does not appear"),
        ("ij->ii", [(2, 3)], "appears more than once"),
        ("i1->i", [(2, 3)], "invalid subscript '1'"),
        ("i......", [(2, 3)], "more than one ellipsis"),
        ("i->i->i", [(2,)], "more than one '->'"),
    ],
)
def test_bad_equations_are_named(equation, shapes, words):
    operands = [plugrad.zeros(*s) for s in shapes]
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        plugrad.einsum(equation, *operands)


def test_operands_must_be_tensors():
    with pytest.raises(TypeError, match="operand 1 is a list"):
        plugrad.einsum("i,i", plugrad.zeros(2), [1.0, 2.0])
