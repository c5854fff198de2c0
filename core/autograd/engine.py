"""Reverse-mode differentiation: topological order, then one backward pass.

Gradients are Tensors, so with create_graph=True the backward pass itself is recorded and can
be differentiated again (higher-order gradients).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..amp import state as amp_state
from .grad_mode import enable_grad, no_grad
from .history import check_saved_versions, graph_inputs
from .hooks import run_tensor_hooks

if TYPE_CHECKING:
    from .tensor import Tensor


def topological_order(roots: Sequence[Tensor]) -> list[Tensor]:
    """Nodes reachable from `roots` that need gradients, each after all of its inputs.

    Iterative depth-first search, so deep graphs do not hit Python's recursion limit.
    """
    order: list[Tensor] = []
    visited: set[int] = set()
    for root in roots:
        if id(root) in visited:
            continue
        visited.add(id(root))
        stack = [(root, iter(_inputs_of(root)))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child.requires_grad and id(child) not in visited:
                    visited.add(id(child))
                    stack.append((child, iter(_inputs_of(child))))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def _inputs_of(node: Tensor) -> tuple[Tensor, ...]:
    return graph_inputs(node) if node._op is not None else ()


class _HandedBuffers:
    """How often each gradient buffer was handed on during one backward pass.

    A leaf may keep its gradient's memory as .grad only when nothing else holds that buffer: a
    gradient given to two inputs, a root gradient (the caller's) or a custom Function's output
    (it may alias the user's tensors) is copied instead. A node that hands a view of its
    gradient on releases its own hold, so chains of views stay owned. Weak references forget a
    buffer when it is freed, so a new buffer that reuses its id starts from zero.
    """

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.refs: list[object] = []

    def note(self, grad: Tensor, times: int) -> None:
        if not hasattr(grad, "array"):  # a join's gradients (hooks.Slots), never kept
            return
        buffer = grad.array.buffer
        key = id(buffer)
        if key in self.counts:
            self.counts[key] += times
            return
        self.counts[key] = times
        try:
            self.refs.append(weakref.ref(buffer, lambda _, key=key: self.counts.pop(key, None)))
        except TypeError:  # a buffer type without weak references: keep it (and its id) alive
            self.refs.append(buffer)

    def release(self, grad: Tensor) -> None:
        if not hasattr(grad, "array"):
            return
        key = id(grad.array.buffer)
        if key in self.counts:
            self.counts[key] -= 1

    def owned(self, grad: Tensor) -> bool:
        return self.counts.get(id(grad.array.buffer), 0) <= 1


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Tensor],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None = None,
) -> list[Tensor | None] | None:
    """Propagate `root_grads` from `roots`. Accumulate into leaves' .grad, or, when `inputs`
    is given, return the gradients with respect to them instead (autograd.grad)."""
    order = topological_order(roots)
    grads: dict[int, Tensor] = {}
    handed = _HandedBuffers()
    for root, grad in zip(roots, root_grads):
        grads[id(root)] = grads[id(root)] + grad if id(root) in grads else grad
        handed.note(grad, 2)  # the caller holds a root gradient
    # The pass holds the roots and their gradients only through `order` and `grads`, so each
    # goes as soon as it has been processed.
    del roots, root_grads, root, grad
    wanted = {id(t) for t in inputs} if inputs is not None else None
    results: dict[int, Tensor] = {}
    mode = enable_grad() if create_graph else no_grad()
    partial = _pass.partial
    _pass.partial = inputs is not None
    try:
        # Gradients keep the forward's dtypes: backward inside an autocast region casts nothing.
        with mode, amp_state.suppressed():
            _propagate(order, grads, handed, wanted, results, retain_graph, create_graph)
    finally:
        _pass.partial = partial
    if inputs is None:
        return None
    return [results.get(id(t)) for t in inputs]


class _Pass(threading.local):
    partial = False  # the backward pass running in this thread is autograd.grad's


_pass = _Pass()


def in_partial_backward() -> bool:
    """True inside a backward pass that returns gradients (autograd.grad) instead of
    accumulating them into leaves (plugrad.utils.checkpoint refuses those)."""
    return _pass.partial


def _propagate(
    order: list[Tensor],
    grads: dict[int, Tensor],
    handed: _HandedBuffers,
    wanted: set[int] | None,
    results: dict[int, Tensor],
    retain_graph: bool,
    create_graph: bool,
) -> None:
    # Nodes leave `order` as they are processed, so once a node and the nodes that read it
    # are done (and their graph is freed), nothing holds its array: activations go back to
    # the device during backward instead of at its end.
    while order:
        node = order.pop()
        grad = grads.pop(id(node), None)
        if grad is None:
            continue
        meta = node._meta
        if meta is not None and meta.hooks:
            hooked = run_tensor_hooks(meta.hooks, grad)
            if hooked is not grad:
                handed.release(grad)
                handed.note(hooked, 2)  # the hook's caller may hold it
                grad = hooked
        if wanted is not None and id(node) in wanted:
            results[id(node)] = grad
        if node._op is None:
            if node._graph_freed:
                raise RuntimeError(
                    "trying to backward through the graph a second time (or to reach "
                    "tensors already freed); pass retain_graph=True to the first backward"
                )
            if wanted is None and node.requires_grad:
                node._accumulate_grad(grad, create_graph, handed.owned(grad))
                if meta is not None and meta.post_hooks:
                    for fn in list(meta.post_hooks.values()):
                        fn(node)
            continue
        if node._retains_grad and wanted is None:
            node._accumulate_grad(grad, create_graph, owned=False)
        check_saved_versions(node)
        if not create_graph and _add_into_pending(node, grad, grads, handed):
            handed.release(grad)
            if not retain_graph:
                node._free_graph()
            continue
        input_grads = node._op.gradient_as_tuple(grad, node)
        weight = 2 if node._op.user_defined else 1
        for child, child_grad in zip(node._inputs, input_grads):
            if child_grad is None or not child.requires_grad:
                continue
            key = id(child)
            if key in grads:
                previous = grads[key]
                grads[key] = previous + child_grad
                handed.release(previous)
                handed.note(grads[key], 1)
                del previous  # a stale local would keep the addend alive
            else:
                grads[key] = child_grad
                handed.note(child_grad, weight)
        handed.release(grad)  # this node is done with its gradient
        if not retain_graph:
            node._free_graph()


def _add_into_pending(
    node: Tensor, grad: Tensor, grads: dict[int, Tensor], handed: _HandedBuffers
) -> bool:
    """For a basic-indexing node (x[t], a chunk) whose input already has a pending gradient
    that this pass alone holds, compact and of the input's shape and dtype: add `grad` into
    that gradient's slice in place and return True. Without it, every slice's gradient is a
    zero-filled array of the input's whole shape added to the pending one, so the L steps of
    a recurrence over `projected[t]` cost O(L^2) memory traffic. False: nothing was done."""
    from ..ops.shape import BasicIndex

    op = node._op
    if type(op) is not BasicIndex or len(node._inputs) != 1:
        return False
    child = node._inputs[0]
    if not child.requires_grad:
        return False
    pending = grads.get(id(child))
    if pending is None or not hasattr(pending, "array") or not hasattr(grad, "array"):
        return False
    target, addend = pending.array, grad.array
    if (
        target.shape != tuple(child.shape)
        or target.dtype is not addend.dtype
        or target.device is not addend.device
        or not target.is_compact()
        or not handed.owned(pending)
    ):
        return False
    view = target.slice_view(op.key)
    view.assign_(view.binary("add", addend))
    return True
