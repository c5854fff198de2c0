"""`@export`: one entry per op, installed as a function, a Tensor method and an in-place form.

    @export(inplace=True)
    def log1p(x: Tensor) -> Tensor:
        ...

makes `plugrad.log1p(x)`, `x.log1p()` and `x.log1p_()` (the value written into x, recorded in
the graph as every in-place write is).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..autograd import inplace
from ..autograd.tensor import Tensor

FUNCTIONS: dict[str, Callable[..., Any]] = {}
"""The function forms, by name; plugrad's namespace includes all of them."""


def export(
    fn: Callable[..., Any] | None = None,
    *,
    method: bool = True,
    function: bool = True,
    inplace_form: bool = False,
    aliases: Sequence[str] = (),
) -> Any:
    """Register fn (its first argument is the tensor) under its name and `aliases`."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        names = (fn.__name__, *aliases)
        for name in names:  # check every name before installing any
            if function and name in FUNCTIONS:
                raise RuntimeError(f"plugrad.{name} is exported twice")
            taken = [m for m in (name, name + "_") if m in vars(Tensor)]
            if (method and name in taken) or (inplace_form and name + "_" in taken):
                raise RuntimeError(f"Tensor.{name} already exists; export it with method=False")
        for name in names:
            if function:
                FUNCTIONS[name] = fn
                package = sys.modules.get("plugrad")
                if package is not None and hasattr(package, "api"):  # registered after import
                    setattr(package, name, fn)
            if method:
                setattr(Tensor, name, fn)
            if inplace_form:
                setattr(Tensor, name + "_", inplace.inplace_method(fn, name))
        return fn

    return register if fn is None else register(fn)
