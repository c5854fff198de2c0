"""Whether operations record the graph: `no_grad`, `enable_grad`, `inference_mode` and
`set_grad_enabled`, as in torch. Each is a context manager and a decorator (`@no_grad` and
`@no_grad()` both work); the mode is per thread."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any


class _GradState(threading.local):
    enabled = True  # each thread starts recording, as in torch
    inference = False


_local = _GradState()


def is_grad_enabled() -> bool:
    return _local.enabled


def is_inference_mode_enabled() -> bool:
    return _local.inference


class _GradMode:
    """Context manager and decorator that sets grad mode, restoring the previous one on exit."""

    enabled = True
    inference = False

    def __new__(cls, orig_func: Callable[..., Any] | None = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        if not callable(orig_func):
            raise TypeError(
                f"{cls.__name__}() takes no arguments (or a function when used as a bare "
                f"decorator), got {type(orig_func).__name__}"
            )
        return cls()(orig_func)

    def __enter__(self) -> None:
        self._previous = (_local.enabled, _local.inference)
        _local.enabled, _local.inference = self.enabled, self.inference

    def __exit__(self, *exc: object) -> None:
        _local.enabled, _local.inference = self._previous

    def clone(self) -> _GradMode:
        return type(self)()

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.clone():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):  # noqa: N801 - torch's name
    """Operations inside do not record the graph: `with plugrad.no_grad(): ...`."""

    enabled = False


class enable_grad(_GradMode):  # noqa: N801 - torch's name
    """Re-enable recording inside a no_grad block."""

    enabled = True


class inference_mode(_GradMode):  # noqa: N801 - torch's name
    """no_grad for inference: nothing inside is recorded. `inference_mode(False)` changes
    nothing, as in torch."""

    enabled = False
    inference = True

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode):  # bare @inference_mode
            return cls()(mode)
        return object.__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)

    def __enter__(self) -> None:
        self._previous = (_local.enabled, _local.inference)
        if self.mode:
            _local.enabled, _local.inference = False, True

    def clone(self) -> inference_mode:
        return inference_mode(self.mode)


class set_grad_enabled(_GradMode):  # noqa: N801 - torch's name
    """`set_grad_enabled(False)` turns recording off now; as a context manager (or decorator)
    it restores the previous mode on exit."""

    def __new__(cls, mode: bool) -> Any:
        return object.__new__(cls)

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._previous = (_local.enabled, _local.inference)
        _local.enabled = self.mode

    def __enter__(self) -> None:
        _local.enabled = self.mode

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        _local.enabled = self._previous[0]  # as a decorator it acts only inside the function
        return super().__call__(fn)

    def clone(self) -> set_grad_enabled:
        previous = _local.enabled
        clone = set_grad_enabled(self.mode)
        _local.enabled = previous  # making the clone must not change the mode yet
        return clone
