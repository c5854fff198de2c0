"""Module: the base class of layers, with parameters, buffers, submodules and state_dict."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple, TypeVar

import numpy as np

from plugrad import dtypes as dt
from plugrad.arguments import device_and_floating_dtype
from plugrad.autograd.grad_mode import no_grad
from plugrad.autograd.hooks import RemovableHandle
from plugrad.autograd.tensor import Tensor

from .hooks import ModuleHooks
from .parameter import Parameter

M = TypeVar("M", bound="Module")


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` could not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of every layer. Assign Parameters, Modules and buffers as attributes in
    `__init__` (after `super().__init__()`) and define `forward`; call the module itself.
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())

    # --- attribute registration ----------------------------------------------------------
    def _registries(self) -> tuple[dict, dict, dict]:
        try:
            return (
                self.__dict__["_parameters"],
                self.__dict__["_buffers"],
                self.__dict__["_modules"],
            )
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning parameters, "
                "buffers or submodules"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, (Parameter, Module)):
            params, buffers, modules = self._registries()
            for registry in (params, buffers, modules):
                registry.pop(name, None)
            self.__dict__.pop(name, None)
            (params if isinstance(value, Parameter) else modules)[name] = value
            return
        d = self.__dict__
        if name in d.get("_parameters", ()):
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} "
                    "(a plugrad.nn.Parameter or None is expected)"
                )
            d["_parameters"][name] = None
        elif name in d.get("_buffers", ()):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign {type(value).__name__} as buffer {name!r} (a Tensor or None "
                    "is expected)"
                )
            d["_buffers"][name] = value
        elif name in d.get("_modules", ()):
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module {name!r} "
                    "(a Module or None is expected)"
                )
            d["_modules"][name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            found = d.get(registry)
            if found is not None and name in found:
                return found[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for registry in ("_parameters", "_buffers", "_modules"):
            found = self.__dict__.get(registry)
            if found is not None and name in found:
                del found[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        extra = list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(set(super().__dir__()) | set(extra))

    def _check_name(self, name: str, what: str) -> None:
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{what} name must be a non-empty string without '.', got {name!r}")
        if hasattr(type(self), name) or (
            name in self.__dict__ and name not in self._parameters and name not in self._buffers
        ):
            raise KeyError(f"attribute {name!r} already exists on {type(self).__name__}")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None, a declared-but-absent one such as a missing bias)."""
        self._registries()
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot register {type(param).__name__} as parameter {name!r}; wrap it in "
                "plugrad.nn.Parameter"
            )
        if name not in self._parameters:
            self._check_name(name, "parameter")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (e.g. BatchNorm's running mean).

        Persistent buffers are part of `state_dict()`; all buffers move with `to(device)`.
        """
        self._registries()
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"buffer {name!r} must be a Tensor or None, got {type(tensor).__name__}"
            )
        if name not in self._buffers:
            self._check_name(name, "buffer")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module (or None) under `name`."""
        self._registries()
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if name not in self._modules:
            self._check_name(name, "module")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The submodule at a dotted path such as 'encoder.0'; '' is self."""
        module: Module = self
        for part in target.split(".") if target else []:
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(
                    f"{type(module).__name__} has no submodule {part!r} (in {target!r})"
                )
            module = child
        return module

    def get_parameter(self, target: str) -> Parameter:
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        param = module._parameters.get(name)
        if param is None:
            raise AttributeError(f"{type(module).__name__} has no parameter {name!r}")
        return param

    # --- calling -------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        hooks = self.__dict__.get("_hooks")
        if hooks is None:
            return self.forward(*args, **kwargs)
        return hooks.call(self, args, kwargs)

    # --- hooks (nn/hooks.py) -------------------------------------------------------------
    def _hook_registry(self) -> ModuleHooks:
        hooks = self.__dict__.get("_hooks")
        if hooks is None:
            hooks = ModuleHooks()
            object.__setattr__(self, "_hooks", hooks)
        return hooks

    def register_forward_pre_hook(
        self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """hook(module, args) before forward; it may return new args (or (args, kwargs)
        with with_kwargs=True, when it is called as hook(module, args, kwargs))."""
        hooks = self._hook_registry()
        return hooks.add(hooks.forward_pre, (hook, with_kwargs), prepend)

    def register_forward_hook(
        self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False,
        always_call: bool = False,
    ) -> RemovableHandle:  # fmt: skip
        """hook(module, args, output) after forward; it may return a new output.
        always_call=True runs it (with output None) when forward raises."""
        hooks = self._hook_registry()
        return hooks.add(hooks.forward, (hook, with_kwargs, always_call), prepend)

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """hook(module, grad_input, grad_output) once the gradients with respect to the
        module's tensor arguments are computed; it may return replacements for grad_input."""
        hooks = self._hook_registry()
        return hooks.add(hooks.backward, hook, prepend)

    def register_full_backward_pre_hook(
        self, hook: Callable, prepend: bool = False
    ) -> RemovableHandle:
        """hook(module, grad_output) before the module's backward; it may replace them."""
        hooks = self._hook_registry()
        return hooks.add(hooks.backward_pre, hook, prepend)

    # --- traversal -----------------------------------------------------------------------
    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for self and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                sub = f"{prefix}.{name}" if prefix else name
                yield from child.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, kind: str, prefix: str, recurse: bool, remove_duplicate: bool = True):
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, kind).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs; a parameter shared by two modules appears once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # --- modes and helpers ---------------------------------------------------------------
    def train(self: M, mode: bool = True) -> M:
        """Training mode (Dropout drops, BatchNorm uses batch statistics) for self and children."""
        if not isinstance(mode, bool):
            raise TypeError(f"train() takes a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self: M) -> M:
        """Evaluation mode: `train(False)`."""
        return self.train(False)

    def requires_grad_(self: M, requires_grad: bool = True) -> M:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's .grad: to None (default) or to zeros in place."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = p.grad.detach()
                p.grad.zero_()

    def apply(self: M, fn: Callable[[Module], None]) -> M:
        """Call `fn(m)` on every submodule (children first) and then on self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # --- devices and dtypes --------------------------------------------------------------
    def to(self: M, *args: Any, **kwargs: Any) -> M:
        """`model.to("c_cpu")`, `model.to(plugrad.float64)`, `model.to(device, dtype)`.

        Moves in place: parameters stay the same objects (their buffers are swapped), so an
        optimizer built before the move keeps updating them; its state follows lazily at the
        next step. Only floating-point parameters and buffers change dtype.
        """
        target, want = device_and_floating_dtype("Module.to", args, dict(kwargs))

        def convert(t: Tensor) -> None:
            array = t.array
            if want is not None and array.dtype.is_floating:
                array = array.astype(want)
            if target is not None:
                array = array.to(target)
            t.array = array

        seen: set[int] = set()
        for m in self.modules():
            for t in list(m._parameters.values()) + list(m._buffers.values()):
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                convert(t)
                if t.grad is not None:
                    convert(t.grad)
        return self

    def cpu(self: M) -> M:
        return self.to("cpu")

    def float(self: M) -> M:
        return self.to(dt.float32)

    def double(self: M) -> M:
        return self.to(dt.float64)

    def half(self: M) -> M:
        return self.to(dt.float16)

    def bfloat16(self: M) -> M:
        return self.to(dt.bfloat16)

    # --- state ---------------------------------------------------------------------------
    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name (detached, sharing memory); a
        module reachable by two paths appears under both, as in torch."""
        out: OrderedDict[str, Tensor] = OrderedDict()
        modules = self.named_modules(prefix=prefix.rstrip("."), remove_duplicate=False)
        for module_prefix, module in modules:
            for name, p in module._parameters.items():
                if p is not None:
                    out[f"{module_prefix}.{name}" if module_prefix else name] = (
                        p if keep_vars else p.detach()
                    )
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    out[f"{module_prefix}.{name}" if module_prefix else name] = (
                        b if keep_vars else b.detach()
                    )
        return out

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy values into the parameters and buffers in place (any device; cast to each
        target's device and dtype). With strict=True, missing or unexpected keys raise."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict expects a mapping, got {type(state_dict).__name__}")
        targets = self.state_dict(keep_vars=True)
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        errors = []
        pairs = []
        for key, target in targets.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if isinstance(value, np.ndarray):
                value = Tensor(value, device=target.device)
            if not isinstance(value, Tensor):
                errors.append(f"value for {key!r} is a {type(value).__name__}, not a Tensor")
                continue
            if value.shape != target.shape:
                errors.append(
                    f"size mismatch for {key}: the checkpoint has shape {value.shape}, "
                    f"the model has {target.shape}"
                )
                continue
            pairs.append((target, value))
        if strict and (missing or unexpected):
            if missing:
                errors.insert(0, f"missing keys: {', '.join(missing)}")
            if unexpected:
                errors.insert(0, f"unexpected keys: {', '.join(unexpected)}")
        if errors:
            raise RuntimeError(
                f"error(s) loading state_dict for {type(self).__name__}:\n  " + "\n  ".join(errors)
            )
        with no_grad():
            for target, value in pairs:
                source = value.detach().to(target.device)
                target.copy_(source)
        return IncompatibleKeys(missing, unexpected)

    # --- printing ------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr line."""
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        if not lines:
            return f"{type(self).__name__}()"
        if len(lines) == 1 and not self._modules:
            return f"{type(self).__name__}({lines[0]})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"
