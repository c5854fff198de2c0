"""Scalar autograd as the course's final review does it, and Graphviz output."""

from __future__ import annotations

import math
import shutil

import pytest

import plugrad
from plugrad import Scalar


def test_topological_sort_of_the_review_graph():
    wr, h0 = Scalar(0.5, "wr"), Scalar(2.0, "h0")
    wi, x1 = Scalar(-1.0, "wi"), Scalar(3.0, "x1")
    wo = Scalar(1.5, "wo")
    z5 = wr * h0
    z5.label = "z5"
    z6 = wi * x1
    z6.label = "z6"
    z7 = z5 + z6
    z7.label = "z7"
    z8 = z7.relu()
    z8.label = "z8"
    z10 = z8 * wo
    z10.label = "z10"
    order = [n.label for n in z10.topological_sort()]
    assert order == ["wr", "h0", "z5", "wi", "x1", "z6", "z7", "z8", "wo", "z10"]


def test_shared_input_gets_32():
    x = Scalar(2.0, label="x")
    z2 = x * x
    z3 = z2 * z2
    assert z3.topological_sort() == [x, z2, z3]
    z3.backward()
    assert x.grad == 32.0


def test_scalar_ops_match_finite_differences():
    def f(a, b):
        return ((a * b + 1.0) / (b - 3.0)) ** 2 + a.exp() * 0.1 - (b * b).log() + a.tanh()

    a, b = Scalar(0.7), Scalar(-1.3)
    f(a, b).backward()
    eps = 1e-6
    for var, grad in ((0, a.grad), (1, b.grad)):
        args = [0.7, -1.3]
        hi, lo = list(args), list(args)
        hi[var] += eps
        lo[var] -= eps
        numeric = f(Scalar(hi[0]), Scalar(hi[1])).data - f(Scalar(lo[0]), Scalar(lo[1])).data
        assert math.isclose(grad, numeric / (2 * eps), rel_tol=1e-5)


def test_backward_reports_each_iteration():
    x = Scalar(3.0, "x")
    y = (x * 2.0).relu()
    seen = []
    y.backward(on_step=lambda node: seen.append((node.op or node.label, node.grad)))
    assert seen[0] == ("relu", 1.0) and x.grad == 2.0


def test_to_dot_for_scalars_and_tensors():
    x = Scalar(2.0, "x")
    dot = plugrad.viz.to_dot((x * x).relu())
    assert dot.startswith("digraph") and "relu" in dot and "x | data 2" in dot
    t = plugrad.ones(2, 3, requires_grad=True)
    t.name = "w"
    loss = (t * 2.0).sum()
    loss.backward(retain_graph=True)  # backward frees the graph unless told to keep it
    tdot = plugrad.viz.to_dot(loss)
    assert "w | (2, 3) float32" in tdot and "Sum" in tdot and "grad (2, 3)" in tdot


def test_chains_of_any_length_backward_and_draw_without_recursion():
    x = Scalar(1.0, "x")
    y = x
    for _ in range(5000):  # far past Python's recursion limit (1000)
        y = y * 1.0001 + 0.5
    y.backward()
    assert math.isclose(x.grad, 1.0001**5000, rel_tol=1e-9)
    order = y.topological_sort()
    assert len(order) == 1 + 5000 * 4 and order[0] is x and order[-1] is y  # x, constants, ops
    dot = plugrad.viz.to_dot(y)
    assert dot.count("_op [shape=ellipse") == 2 * 5000
    t = plugrad.ones(1, requires_grad=True)
    u = t
    for _ in range(5000):
        u = u * 1.0
    assert plugrad.viz.to_dot(u).count("_op [shape=ellipse") == 5000


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_render_svg(tmp_path):
    path = plugrad.viz.render(Scalar(1.0, "a") * 2.0, str(tmp_path / "g.svg"))
    assert open(path).read().lstrip().startswith("<?xml")


def test_render_without_graphviz_says_how_to_fix(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="graphviz"):
        plugrad.viz.render(Scalar(1.0), "/tmp/never.svg")
