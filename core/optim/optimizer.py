"""Optimizer: parameter groups, per-parameter state, zero_grad and state_dict.

Updates run under `no_grad()` with in-place ops on the parameters, so a step never grows the
autograd graph. Device moves: after `model.to(device)` (which moves parameters in place), each
parameter's state (momentum, Adam moments) follows it lazily at its next step; `opt.to(device)`
moves all the state at once.
"""

from __future__ import annotations

import abc
import copy
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ..arguments import device_and_floating_dtype
from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.tensor import Tensor
from ..factory import zeros_like

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


class Optimizer(abc.ABC):
    """Base class: subclasses set `defaults` and implement `step()`.

    `params` is an iterable of tensors, or of dicts (parameter groups) with a "params" entry
    and per-group overrides such as {"params": head.parameters(), "lr": 1e-3}.
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params should be an iterable of Tensors or dicts, got a single Tensor; "
                "pass [tensor] or model.parameters()"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (defaults fill the rest)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError("a parameter group needs a 'params' entry")
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizers take Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(
                    "can't optimize a non-leaf tensor (the result of an operation); optimize "
                    "the leaf it was computed from, or .detach().requires_grad_()"
                )
            if not p.dtype.is_floating:
                raise TypeError(f"can't optimize a tensor of dtype {p.dtype.name}")
        group["params"] = params
        for key, default in self.defaults.items():
            if default is required and key not in group:
                raise ValueError(
                    f"parameter group didn't specify a value of required option {key!r}"
                )
            group.setdefault(key, default)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or existing & {id(p) for p in params}:
            raise ValueError("some parameters appear in more than one parameter group (or twice)")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset gradients: to None (default, frees memory) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad = p.grad.detach()
                    p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns closure()'s loss.

        Runs `_update_group` for each parameter group under no_grad, so a step never grows
        the graph."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                self._update_group(group)
        return loss

    @staticmethod
    def _params_with_grads(group: dict[str, Any]) -> Iterator[tuple[Tensor, Tensor]]:
        """(parameter, gradient) for each parameter of the group that has one; the gradient
        is negated when the group maximizes."""
        for p in group["params"]:
            if p.grad is None:
                continue
            g = p.grad.detach()
            yield p, (-g if group.get("maximize") else g)

    @abc.abstractmethod
    def _update_group(self, group: dict[str, Any]) -> None:
        """Update the parameters of one group in place (called under no_grad)."""

    def _state_for(self, p: Tensor) -> dict[str, Any]:
        """This parameter's state, with its tensors moved to the parameter's current device
        (and, where shaped like it, cast to its floating dtype after `model.to(dtype)`)."""
        state = self.state.get(p)
        if state is None:
            state = self.state[p] = {}
            return state
        floating = p.dtype if p.dtype.is_floating else None
        for key, value in state.items():
            state[key] = _converted(value, p.device, floating, p.shape)
        return state

    @staticmethod
    def _zeros_state(state: dict[str, Any], key: str, like: Tensor) -> Tensor:
        """state[key], created as zeros shaped like `like` on first use."""
        value = state.get(key)
        if value is None:
            value = state[key] = zeros_like(like)
        return value

    def to(self, *args: Any, **kwargs: Any) -> Optimizer:
        """`opt.to(device)`, `opt.to(dtype)`, `opt.to(device, dtype)`: move (and cast the
        floating state tensors) now; otherwise each follows its parameter at the next step."""
        target, want = device_and_floating_dtype("Optimizer.to", args, dict(kwargs))
        for state in self.state.values():
            for key, value in state.items():
                state[key] = _converted(value, target, want)
        return self

    # --- state_dict ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}, as torch:
        parameters are referred to by their position across groups."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {
            index[id(p)]: dict(s)
            for group in self.param_groups
            for p in group["params"]
            if (s := self.state.get(p))
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyper-parameters and state saved by `state_dict()` (of an optimizer over
        parameters of the same shapes, in the same order); tensors move to each parameter's
        device and floating ones to its dtype."""
        if "param_groups" not in state_dict or "state" not in state_dict:
            raise ValueError("an optimizer state_dict has 'state' and 'param_groups' entries")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"the state_dict has {len(saved_groups)} parameter groups, this optimizer "
                f"has {len(self.param_groups)}"
            )
        by_index: dict[int, Tensor] = {}
        for saved, group in zip(saved_groups, self.param_groups):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"a parameter group of the state_dict has {len(saved['params'])} parameters, "
                    f"the optimizer's has {len(group['params'])}"
                )
            for i, p in zip(saved["params"], group["params"]):
                by_index[int(i)] = p
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, values in state_dict["state"].items():
            p = by_index.get(int(key))
            if p is None:
                raise ValueError(
                    f"the state_dict has state for parameter {key}, which no group lists"
                )
            new_state[p] = {name: _restored(value, p) for name, value in values.items()}
        self.state = new_state
        for saved, group in zip(saved_groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = copy.deepcopy(v)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _converted(value: Any, device: Any, dtype: Any, shape: tuple | None = None) -> Any:
    """A state value with its tensors (also inside lists and tuples, as LBFGS keeps its
    history) on `device` (None: keep) and its floating ones in `dtype` (None: keep), only
    those of `shape` where one is given (Adam's moments, not a scalar step count)."""
    if isinstance(value, Tensor):
        if dtype is not None and value.dtype.is_floating and value.dtype != dtype:
            if shape is None or value.shape == shape:
                value = value.astype(dtype)
        return value if device is None or value.device is device else value.to(device)
    if isinstance(value, (list, tuple)):
        return type(value)(_converted(v, device, dtype, shape) for v in value)
    return value


def _restored(value: Any, p: Tensor) -> Any:
    """A fresh copy of a saved state value for parameter p: tensors (also inside lists,
    tuples and dicts) on p's device, and p's dtype where they have p's shape."""
    if isinstance(value, Tensor):
        if value.dtype.is_floating and value.shape == p.shape:
            value = value.astype(p.dtype)
        with no_grad():
            return value.detach().to(p.device).clone()
    if isinstance(value, (list, tuple)):
        return type(value)(_restored(v, p) for v in value)
    if isinstance(value, dict):
        return {k: _restored(v, p) for k, v in value.items()}
    return copy.deepcopy(value)
