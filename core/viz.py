"""Graphviz DOT text for Scalar and Tensor graphs: `plugrad.viz.to_dot(root)`.

Each value is a box (label, value or shape, grad); each op is an ellipse between its inputs and
its output. `render(root, path)` writes SVG when the `dot` program is installed. backward()
frees a Tensor graph: draw before it, or call backward(retain_graph=True) to draw the grads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import Any

from .autograd.tensor import Tensor
from .scalar import Scalar


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _nodes(root: Any) -> list[Any]:
    if isinstance(root, Scalar):
        return root.topological_sort()
    if isinstance(root, Tensor):
        order: list[Tensor] = []
        seen: set[int] = set()
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(_tensor_inputs(node)))
        return order
    raise TypeError(f"to_dot draws a Scalar or a Tensor graph, got {type(root).__name__}")


def _describe(node: Any) -> tuple[str, str, list[Any]]:
    """(box text, op name, inputs) for a Scalar or Tensor node."""
    if isinstance(node, Scalar):
        name = f"{node.label} | " if node.label else ""
        return f"{name}data {node.data:.4g} | grad {node.grad:.4g}", node.op, list(node.inputs)
    name = f"{node.name} | " if node.name else ""
    text = f"{name}{tuple(node.shape)} {node.dtype.name}"
    if node.numel() == 1:
        text += f" | data {node.array.item():.4g}"
    if node.grad is not None:
        grad = f"{node.grad.item():.4g}" if node.grad.numel() == 1 else str(tuple(node.grad.shape))
        text += f" | grad {grad}"
    op = node._op.name if node._op is not None else ""
    return text, op, list(_tensor_inputs(node))


def _tensor_inputs(node: Any) -> tuple:
    """A tensor node's inputs as recorded (earlier identities of tensors written in place)."""
    from .autograd.history import graph_inputs

    return graph_inputs(node) if node._op is not None else ()


def to_dot(root: Scalar | Tensor, rankdir: str = "LR") -> str:
    """The graph that produced `root`, as DOT text."""
    lines = ["digraph plugrad {", f"  rankdir={rankdir};", '  node [fontname="Helvetica"];']
    ids = {id(node): f"n{i}" for i, node in enumerate(_nodes(root))}
    for node in _nodes(root):
        text, op, inputs = _describe(node)
        nid = ids[id(node)]
        lines.append(f'  {nid} [shape=record, label="{{ {_escape(text)} }}"];')
        if op:
            lines.append(f'  {nid}_op [shape=ellipse, label="{_escape(op)}"];')
            lines.append(f"  {nid}_op -> {nid};")
            for child in inputs:
                lines.append(f"  {ids[id(child)]} -> {nid}_op;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(root: Scalar | Tensor, path: str, fmt: str = "svg") -> str:
    """Write the graph as `fmt` (svg by default) with Graphviz's `dot`; returns the path.

    Raises RuntimeError when Graphviz is not installed (the DOT text is still available from
    to_dot). The file is written atomically.
    """
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            "rendering needs the Graphviz `dot` program (e.g. apt-get install graphviz); "
            "plugrad.viz.to_dot(root) gives the DOT text without it"
        )
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=f".{fmt}")
    os.close(fd)
    try:
        subprocess.run([dot, f"-T{fmt}", "-o", tmp], input=to_dot(root), text=True, check=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
