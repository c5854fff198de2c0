"""Module hooks, as torch's: forward pre-hooks, forward hooks, full backward (pre-)hooks.

    handle = model.register_forward_hook(lambda m, args, out: print(out.shape))
    handle.remove()

The full backward hooks see a call's gradients all at once: the module's tensor arguments and
its tensor outputs each pass through a join (`plugrad.autograd.hooks.join`), so backward
meets the outputs' gradients (grad_output) in one node and the arguments' (grad_input) in
another, where the hooks may replace them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from plugrad.autograd.grad_mode import is_grad_enabled
from plugrad.autograd.hooks import RemovableHandle, add_hook, join
from plugrad.autograd.tensor import Tensor

if TYPE_CHECKING:
    from .module import Module


class ModuleHooks:
    """The hooks of one module, each registry ordered as the hooks run."""

    def __init__(self) -> None:
        self.forward_pre: dict[int, tuple[Callable, bool]] = {}
        self.forward: dict[int, tuple[Callable, bool, bool]] = {}
        self.backward: dict[int, Callable] = {}
        self.backward_pre: dict[int, Callable] = {}

    def add(self, registry: dict, entry: Any, prepend: bool) -> RemovableHandle:
        return add_hook(registry, entry, prepend)

    def call(self, module: Module, args: tuple, kwargs: dict) -> Any:
        for fn, with_kwargs in list(self.forward_pre.values()):
            if with_kwargs:
                result = fn(module, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            "a forward pre-hook registered with with_kwargs=True must return "
                            f"None or (args, kwargs), got {type(result).__name__}"
                        )
                    args, kwargs = result
            else:
                result = fn(module, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        backward = bool(self.backward or self.backward_pre) and is_grad_enabled()
        call = _BackwardCall(self, module, args) if backward else None
        if call is not None:
            args = call.wrap_inputs(args)
        try:
            output = module.forward(*args, **kwargs)
        except Exception:
            for fn, with_kwargs, always in list(self.forward.values()):
                if always:
                    fn(module, args, kwargs, None) if with_kwargs else fn(module, args, None)
            raise
        for fn, with_kwargs, _ in list(self.forward.values()):
            result = fn(module, args, kwargs, output) if with_kwargs else fn(module, args, output)
            if result is not None:
                output = result
        if call is not None:
            output = call.wrap_outputs(output)
        return output


class _BackwardCall:
    """One forward call's gradients on their way to the full backward hooks."""

    def __init__(self, hooks: ModuleHooks, module: Module, args: tuple) -> None:
        self.hooks, self.module = hooks, module
        self.count = sum(isinstance(a, Tensor) for a in args)
        self.inputs_joined = False
        self.grad_output: tuple = ()

    def wrap_inputs(self, args: tuple) -> tuple:
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = [args[i] for i in positions]
        if not any(t.requires_grad for t in tensors):
            return args
        self.inputs_joined = True
        wrapped = join(tensors, self.on_input_grads)
        out = list(args)
        for i, t in zip(positions, wrapped):
            out[i] = t
        return tuple(out)

    def wrap_outputs(self, output: Any) -> Any:
        single = isinstance(output, Tensor)
        items = [output] if single else list(output) if isinstance(output, (tuple, list)) else []
        positions = [i for i, o in enumerate(items) if isinstance(o, Tensor)]
        if not positions:
            return output
        wrapped = join([items[i] for i in positions], self.on_output_grads)
        for i, t in zip(positions, wrapped):
            items[i] = t
        return items[0] if single else type(output)(items)

    def on_output_grads(self, grads: tuple) -> tuple | None:
        changed = False
        for fn in list(self.hooks.backward_pre.values()):
            result = fn(self.module, grads)
            if result is not None:
                grads = _as_grads(result, len(grads), "full backward pre-hook")
                changed = True
        self.grad_output = grads
        if not self.inputs_joined:  # no argument requires grad: the hooks run now, as torch's
            self.run_backward_hooks((None,) * self.count)
        return grads if changed else None

    def on_input_grads(self, grads: tuple) -> tuple | None:
        return self.run_backward_hooks(grads)

    def run_backward_hooks(self, grad_input: tuple) -> tuple | None:
        changed = False
        for fn in list(self.hooks.backward.values()):
            result = fn(self.module, grad_input, self.grad_output)
            if result is not None:
                grad_input = _as_grads(result, len(grad_input), "full backward hook")
                changed = True
        return grad_input if changed else None


def _as_grads(result: Any, count: int, what: str) -> tuple:
    grads = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    if len(grads) != count:
        raise RuntimeError(f"a {what} returned {len(grads)} gradients where {count} were expected")
    return grads
