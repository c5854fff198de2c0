"""`plugrad.amp.GradScaler`: loss scaling for float16 training, as torch.amp.GradScaler.

    scaler = plugrad.amp.GradScaler("cpu")
    with plugrad.autocast("cpu", dtype=plugrad.float16):
        loss = loss_fn(model(x), y)
    scaler.scale(loss).backward()   # gradients of loss * scale: small ones survive float16
    scaler.step(opt)                # unscales, then steps unless a gradient is inf or NaN
    scaler.update()                 # halves the scale after an overflow, doubles it after
                                    # growth_interval clean steps

The scale is a float32 number kept on the host (plugrad's host backends need no device-side
copy to avoid a synchronisation, and every step reads the inf check anyway), so its values,
rounding included, are torch's.
"""

from __future__ import annotations

import enum
import math
from typing import Any

import numpy as np

from .autocast import _checked_type, _covers_device


class _Stage(enum.Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _f32(value: float) -> float:
    """A value as torch's float32 scale tensor holds it (inf past float32's range)."""
    with np.errstate(over="ignore"):
        return float(np.float32(value))


class GradScaler:
    """Scales losses, unscales and checks gradients, skips steps that overflowed and adapts
    the scale. device: the device type whose outputs it scales ("cpu" for every host backend,
    "cuda", a backend's name; None: "cpu" when the default device is a host backend, else
    its type); enabled=False makes every method a pass-through, so one training loop serves
    both precisions."""

    def __init__(
        self,
        device: str | None = None,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        if device is None:
            from ..backend.registry import get_default_device

            default = get_default_device()
            device = "cpu" if default.is_host else default.type
        self._device = _checked_type(device)
        if not init_scale > 0 or not math.isfinite(init_scale):
            raise ValueError(f"GradScaler: init_scale must be a positive number, got {init_scale}")
        _check_factors(growth_factor, backoff_factor)
        _check_interval(growth_interval)
        if not isinstance(enabled, bool):
            raise TypeError(f"GradScaler: enabled must be a bool, got {type(enabled).__name__}")
        self._enabled = enabled
        self._init_scale = _f32(init_scale)
        self._scale: float | None = None  # set on the first scale(), as torch does
        self._growth_factor, self._backoff_factor = growth_factor, backoff_factor
        self._growth_interval = growth_interval
        self._growth_tracker = 0
        self._per_optimizer: dict[int, dict[str, Any]] = {}

    # --- the training-step API -------------------------------------------------------------
    def scale(self, outputs: Any) -> Any:
        """outputs (a tensor, or nested lists and tuples of them) times the scale."""
        if not self._enabled:
            return outputs
        if self._scale is None:
            self._scale = self._init_scale
        return self._scaled(outputs)

    def _scaled(self, value: Any) -> Any:
        from ..autograd.tensor import Tensor

        if isinstance(value, Tensor):
            if not _covers_device(self._device, value.device):
                raise ValueError(
                    f"GradScaler({self._device!r}) cannot scale a tensor on "
                    f"{value.device.name}; make the scaler with that device's type"
                )
            return value * self._scale
        if isinstance(value, (list, tuple)):
            return type(value)(self._scaled(v) for v in value)
        raise TypeError(
            f"GradScaler.scale takes a tensor or lists/tuples of tensors, got "
            f"{type(value).__name__}"
        )

    def unscale_(self, optimizer: Any) -> None:
        """Divide the optimizer's gradients by the scale, in place, and note whether any is
        inf or NaN. Call it before clipping gradients; step() calls it when you have not."""
        if not self._enabled:
            return
        self._require_scale("unscale_")
        state = self._state(optimizer)
        if state["stage"] is _Stage.UNSCALED:
            raise RuntimeError(
                "unscale_() has already been called on this optimizer since the last update()."
            )
        if state["stage"] is _Stage.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        from ..autograd.grad_mode import no_grad

        inv_scale = _f32(1.0 / self._scale)  # torch: the reciprocal in double, then float32
        found_inf = False
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    grad = p.grad
                    if grad is None:
                        continue
                    if grad.dtype.name == "float16":
                        raise ValueError(
                            "Attempting to unscale FP16 gradients: keep the parameters in "
                            "float32 and let autocast make the float16 copies"
                        )
                    grad.mul_(inv_scale)
                    found_inf = found_inf or not bool(grad.isfinite().all())
        state["found_inf"] = found_inf
        state["stage"] = _Stage.UNSCALED

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """optimizer.step(*args, **kwargs) on unscaled gradients, skipped (returning None)
        when a gradient is inf or NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._require_scale("step")
        state = self._state(optimizer)
        if state["stage"] is _Stage.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is _Stage.READY:
            self.unscale_(optimizer)
        result = None if state["found_inf"] else optimizer.step(*args, **kwargs)
        state["stage"] = _Stage.STEPPED
        return result

    def update(self, new_scale: Any = None) -> None:
        """Set the next scale: new_scale if given, else the scale times backoff_factor after
        any inf or NaN since the last update, or times growth_factor after growth_interval
        clean updates in a row."""
        if not self._enabled:
            return
        self._require_scale("update")
        if new_scale is not None:
            self._scale = _f32(_number("update", new_scale))
        else:
            checks = [s["found_inf"] for s in self._per_optimizer.values() if "found_inf" in s]
            if not checks:
                raise RuntimeError("No inf checks were recorded prior to update.")
            if any(checks):
                self._scale = _f32(self._scale * self._backoff_factor)
                self._growth_tracker = 0
            elif self._growth_tracker + 1 == self._growth_interval:
                grown = _f32(self._scale * self._growth_factor)
                if math.isfinite(grown):  # torch keeps the old scale rather than overflow
                    self._scale = grown
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
        self._per_optimizer.clear()

    # --- reading and setting the parameters -------------------------------------------------
    def get_scale(self) -> float:
        """The current scale (init_scale before the first scale()); 1.0 when disabled."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else self._scale

    def is_enabled(self) -> bool:
        return self._enabled

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        _check_factors(new_factor, self._backoff_factor)
        self._growth_factor = new_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        _check_factors(self._growth_factor, new_factor)
        self._backoff_factor = new_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        _check_interval(new_interval)
        self._growth_interval = new_interval

    def state_dict(self) -> dict[str, Any]:
        """torch's keys: scale, growth_factor, backoff_factor, growth_interval and
        _growth_tracker; empty when disabled."""
        if not self._enabled:
            return {}
        return {
            "scale": self.get_scale(),
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._growth_tracker,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError(
                "The source state dict is empty, possibly because it was saved from a disabled "
                "instance of GradScaler."
            )
        missing = {"scale", "growth_factor", "backoff_factor", "growth_interval"} - set(state_dict)
        if missing:
            raise KeyError(f"GradScaler.load_state_dict: missing {', '.join(sorted(missing))}")
        _check_factors(state_dict["growth_factor"], state_dict["backoff_factor"])
        _check_interval(state_dict["growth_interval"])
        self._init_scale = _f32(state_dict["scale"])
        if self._scale is not None:
            self._scale = self._init_scale
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._growth_tracker = int(state_dict.get("_growth_tracker", 0))

    def __repr__(self) -> str:
        return (
            f"GradScaler({self._device!r}, scale={self.get_scale()}, "
            f"growth_factor={self._growth_factor}, backoff_factor={self._backoff_factor}, "
            f"growth_interval={self._growth_interval}, enabled={self._enabled})"
        )

    # --- helpers ------------------------------------------------------------------------------
    def _state(self, optimizer: Any) -> dict[str, Any]:
        return self._per_optimizer.setdefault(id(optimizer), {"stage": _Stage.READY})

    def _require_scale(self, method: str) -> None:
        if self._scale is None:
            raise RuntimeError(
                f"GradScaler.{method}() before any scale(): scale the loss and run backward first"
            )


def _check_factors(growth_factor: float, backoff_factor: float) -> None:
    if not growth_factor > 1.0:
        raise ValueError(f"The growth factor must be > 1.0, got {growth_factor}")
    if not 0.0 < backoff_factor < 1.0:
        raise ValueError(f"The backoff factor must lie in (0, 1), got {backoff_factor}")


def _check_interval(interval: object) -> None:
    if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
        raise ValueError(f"The growth interval must be a positive integer, got {interval!r}")


def _number(method: str, value: Any) -> float:
    """new_scale as a float: a Python number or a one-element tensor."""
    from ..autograd.tensor import Tensor

    if isinstance(value, Tensor):
        if value.numel() != 1 or not value.dtype.is_floating:
            raise ValueError(
                f"GradScaler.{method}: new_scale should be a float or a 1-element floating "
                f"tensor, got shape {value.shape} of {value.dtype.name}"
            )
        return float(value.item())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"GradScaler.{method}: new_scale should be a float, got {type(value).__name__}")
