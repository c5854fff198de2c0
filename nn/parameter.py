"""Parameter: a Tensor that a Module registers as one of its learnable weights."""

from __future__ import annotations

from plugrad.autograd.tensor import Tensor
from plugrad.factory import empty


class Parameter(Tensor):
    """A leaf tensor that requires grad and is collected by `Module.parameters()`.

    `Parameter(t)` shares `t`'s memory, as in torch. Operations on a Parameter return plain
    Tensors. `Module.to(device)` moves a Parameter in place (same object, new buffer), so an
    optimizer holding it keeps working.
    """

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(
                f"Parameter() takes a plugrad Tensor, got {type(data).__name__}; "
                "wrap it first with plugrad.tensor(...)"
            )
        self._init_leaf(data.array)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
