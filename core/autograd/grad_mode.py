"""Whether operations record the graph: `no_grad()` and `enable_grad()`, as in torch."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any


class _GradState(threading.local):
    enabled = True  # each thread starts recording, as in torch


_local = _GradState()


def is_grad_enabled() -> bool:
    return _local.enabled


def set_grad_enabled(enabled: bool) -> None:
    _local.enabled = bool(enabled)


class _GradMode:
    """Context manager and decorator that sets grad mode, restoring the previous one on exit."""

    enabled = True

    def __enter__(self) -> None:
        self._previous = is_grad_enabled()
        set_grad_enabled(self.enabled)

    def __exit__(self, *exc: object) -> None:
        set_grad_enabled(self._previous)

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):  # noqa: N801 - torch's name
    """Operations inside do not record the graph: `with plugrad.no_grad(): ...`."""

    enabled = False


class enable_grad(_GradMode):  # noqa: N801 - torch's name
    """Re-enable recording inside a no_grad block."""

    enabled = True
