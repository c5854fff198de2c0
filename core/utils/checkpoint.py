"""Rematerialization, as torch.utils.checkpoint: trade compute for memory.

`checkpoint(fn, *args, **kwargs)` runs `fn` under no_grad, so none of its intermediate
tensors are kept, and records one node for it in the graph. Backward runs `fn` again on the
same inputs with grad enabled (the random stream restored first, so Dropout draws the same
mask), backpropagates through that recomputed graph and hands the inputs their gradients.

    from plugrad.utils.checkpoint import checkpoint, checkpoint_sequential
    y = checkpoint(block, x)                       # block's activations are not kept
    y = checkpoint_sequential(model, 4, x)         # a Sequential in 4 segments

Gradients of the parameters used inside `fn` are accumulated into their `.grad` during the
recomputation (as torch's reentrant variant does), so checkpointed graphs support
`.backward()` and `plugrad.autograd.backward`; `plugrad.autograd.grad` and higher-order
gradients (create_graph=True) through a checkpoint are refused with an error. The output
requires grad when an input does or when `fn` exposes parameters that do (an nn.Module, a
bound method of one, or the segments that `checkpoint_sequential` builds); tensors a plain
function closes over are reached only through such an input, as with torch's reentrant
checkpoint. `preserve_rng_state` saves and restores the default generator (the one stream
every device draws from); a module with its own `generator` is not restored. The
recomputation runs under the autocast regions the forward ran under, as torch's does.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .. import dtypes as dt
from ..amp import state as amp_state
from ..autograd.engine import in_partial_backward, run_backward
from ..autograd.grad_mode import enable_grad, is_grad_enabled, no_grad
from ..autograd.tensor import Tensor
from ..ndarray import NDArray
from ..ops.base import Op
from ..random import get_rng_state, set_rng_state

__all__ = ["checkpoint", "checkpoint_sequential"]


def checkpoint(
    function: Callable[..., Any],
    *args: Any,
    use_reentrant: bool | None = None,
    preserve_rng_state: bool = True,
    **kwargs: Any,
) -> Any:
    """`function(*args, **kwargs)`, keeping none of its intermediate tensors for backward.

    `function` returns a Tensor, or a tuple or list whose Tensors each get a gradient (other
    items pass through). `use_reentrant` is accepted for torch's signature: True and False
    (the default) behave the same here. `preserve_rng_state=False` skips saving the random
    stream: the recomputation then draws new numbers (only right without random ops)."""
    if use_reentrant not in (None, True, False):
        raise TypeError(f"use_reentrant must be True, False or None, got {use_reentrant!r}")
    if not callable(function):
        raise TypeError(f"checkpoint needs a callable, got {type(function).__name__}")
    if not is_grad_enabled():
        return function(*args, **kwargs)
    inputs = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)]
    extras = [p for p in _parameters_of(function) if p.requires_grad]
    rng = get_rng_state() if preserve_rng_state else None
    with no_grad():
        outputs = function(*args, **kwargs)
    if not any(t.requires_grad for t in inputs) and not extras:
        warnings.warn(
            "checkpoint: no input requires grad and the function exposes no parameters "
            "(.parameters()), so the output does not require grad; pass the tensors it "
            "closes over as arguments if they need gradients",
            UserWarning,
            stacklevel=2,
        )
        return outputs
    single = isinstance(outputs, Tensor)
    items = [outputs] if single else outputs
    if not isinstance(items, (tuple, list)):
        raise TypeError(
            f"checkpoint: the function returned a {type(outputs).__name__}; return a Tensor "
            "or a tuple or list of them"
        )
    picked = [i for i, o in enumerate(items) if isinstance(o, Tensor) and o.dtype.is_floating]
    if not picked:
        return outputs
    state = _State(function, args, kwargs, rng, [items[i].shape for i in picked])
    first = items[picked[0]]
    hub_array = NDArray.full((), 0.0, dt.float32, first.device)
    hub = Tensor._from_op(hub_array, _CheckpointOp(state, len(inputs)), (*inputs, *extras))
    results = list(items)
    for slot, i in enumerate(picked):
        results[i] = Tensor._from_op(items[i].array, _Output(state, slot), (hub,))
    if single:
        return results[0]
    return tuple(results) if isinstance(outputs, tuple) else results


def checkpoint_sequential(
    functions: Any,
    segments: int,
    input: Tensor,  # noqa: A002 - torch's name
    use_reentrant: bool | None = None,
    preserve_rng_state: bool = True,
) -> Tensor:
    """Run `functions` (a Sequential or a list of modules or callables) in order on `input`,
    in `segments` pieces: each piece but the last is checkpointed (the last one's
    activations are needed at once by backward anyway, as in torch)."""
    if hasattr(functions, "children") and callable(functions.children):
        functions = list(functions.children())
    functions = list(functions)
    if isinstance(segments, bool) or not isinstance(segments, int) or segments < 1:
        raise ValueError(f"segments must be a positive integer, got {segments!r}")
    if segments > len(functions):
        raise ValueError(
            f"checkpoint_sequential: {segments} segments for {len(functions)} functions; "
            "use at most one segment per function"
        )
    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(  # noqa: A001
            _Segment(functions[start : end + 1]),
            input,
            use_reentrant=use_reentrant,
            preserve_rng_state=preserve_rng_state,
        )
    return _Segment(functions[end + 1 :])(input)


class _Segment:
    """Modules applied in order; exposes their parameters so checkpoint can see them."""

    def __init__(self, functions: list[Any]) -> None:
        self.functions = functions

    def __call__(self, x: Any) -> Any:
        for f in self.functions:
            x = f(x)
        return x

    def parameters(self) -> Iterator[Tensor]:
        for f in self.functions:
            yield from _parameters_of(f)


def _parameters_of(function: Any) -> Iterable[Tensor]:
    owner = function
    if not callable(getattr(owner, "parameters", None)):
        owner = getattr(function, "__self__", None)  # a bound method of a module
    parameters = getattr(owner, "parameters", None)
    if not callable(parameters):
        return ()
    seen: dict[int, Tensor] = {}
    for p in parameters():
        if isinstance(p, Tensor):
            seen.setdefault(id(p), p)
    return list(seen.values())


class _State:
    """What the recomputation needs: the function, its arguments, the random stream as it
    was, the outputs' shapes, and the gradients the outputs received."""

    def __init__(
        self,
        function: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        rng: Any,
        shapes: list[tuple[int, ...]],
    ) -> None:
        self.function, self.args, self.kwargs, self.rng = function, args, kwargs, rng
        self.shapes = shapes
        self.autocast = amp_state.snapshot()  # the recomputation runs under the same regions
        self.grads: dict[int, Tensor] = {}


class _Output(Op):
    """One output of a checkpoint: hands its gradient to the shared state, and the hub a
    zero so that the hub runs once, after every output."""

    saved = ()

    def __init__(self, state: _State, slot: int) -> None:
        self.state, self.slot = state, slot

    @property
    def name(self) -> str:
        return "CheckpointOutput"

    def compute(self, *arrays: NDArray) -> NDArray:
        raise RuntimeError("checkpoint outputs are made by plugrad.utils.checkpoint")

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor | None, ...]:
        grads = self.state.grads
        grads[self.slot] = grads[self.slot] + g if self.slot in grads else g
        hub = node._inputs[0]
        return (Tensor._wrap(NDArray.full((), 0.0, hub.dtype, hub.device)),)


class _CheckpointOp(Op):
    """The checkpointed function as one node: its gradient recomputes and backpropagates."""

    saved = None  # the inputs must be as they were: the recomputation reads them all

    def __init__(self, state: _State, count: int) -> None:
        self.state, self.count = state, count

    @property
    def name(self) -> str:
        return "Checkpoint"

    def compute(self, *arrays: NDArray) -> NDArray:
        raise RuntimeError("a checkpoint node is made by plugrad.utils.checkpoint")

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor | None, ...]:
        if in_partial_backward():
            raise RuntimeError(
                "plugrad.autograd.grad cannot go through plugrad.utils.checkpoint: the "
                "recomputation accumulates parameter gradients into .grad. Call .backward() "
                "(or plugrad.autograd.backward) instead, or run without checkpoint"
            )
        if is_grad_enabled():  # the outer pass records itself: create_graph=True
            raise RuntimeError(
                "plugrad.utils.checkpoint does not support higher-order gradients "
                "(backward with create_graph=True): the recomputation's graph starts from "
                "detached inputs. Run that part without checkpoint"
            )
        state = self.state
        grads, state.grads = state.grads, {}
        leaves: dict[int, Tensor] = {}

        def detach(value: Any) -> Any:
            if not isinstance(value, Tensor):
                return value
            leaf = leaves.get(id(value))
            if leaf is None:
                leaf = leaves[id(value)] = Tensor._wrap(value.array)
                leaf.requires_grad = value.requires_grad
            return leaf

        args = [detach(a) for a in state.args]
        kwargs = {k: detach(v) for k, v in state.kwargs.items()}
        current = get_rng_state() if state.rng is not None else None
        try:
            if state.rng is not None:
                set_rng_state(state.rng)
            with enable_grad(), amp_state.restored(state.autocast):
                outputs = state.function(*args, **kwargs)
        finally:
            if current is not None:
                set_rng_state(current)
        items = [outputs] if isinstance(outputs, Tensor) else list(outputs)
        floats = [o for o in items if isinstance(o, Tensor) and o.dtype.is_floating]
        if [o.shape for o in floats] != state.shapes:
            raise RuntimeError(
                "checkpoint: recomputing the function gave outputs of shapes "
                f"{[o.shape for o in floats]}, the forward pass {state.shapes}; the function "
                "must compute the same thing on every call"
            )
        slots = [s for s in sorted(grads) if floats[s].requires_grad]
        if slots:
            # Only the engine holds the recomputed outputs and their gradients from here on,
            # so each goes as soon as backward has passed it.
            passed = [[floats[s] for s in slots], [grads.pop(s) for s in slots]]
            del outputs, items, floats, grads
            run_backward(passed.pop(0), passed.pop(0), False, False)
        result: list[Tensor | None] = []
        handed: set[int] = set()
        for t in (*state.args, *state.kwargs.values()):
            if isinstance(t, Tensor):
                leaf = leaves[id(t)]
                result.append(None if id(leaf) in handed else leaf.grad)  # once per tensor
                handed.add(id(leaf))
        result.extend([None] * (len(node._inputs) - self.count))
        return tuple(result)
