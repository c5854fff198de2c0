"""Running plugin code so that nothing it raises or prints escapes into the caller.

Discovery runs each plugin (its import, its hook, the attributes of the backends it returns)
under `watching_interrupts()` and `output_to_stderr()`, catching every exception, BaseException
included: a plugin that raises SystemExit or KeyboardInterrupt while it loads is listed as
unavailable with that reason instead of ending `plugrad backends` or the user's program, and
one that prints at import cannot corrupt `plugrad backends --json`. The one exception let
through is a KeyboardInterrupt the user caused, by pressing Ctrl-C while plugins loaded.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator


class InterruptWatch:
    """Whether SIGINT arrived (the user pressed Ctrl-C) while plugins were loading."""

    def __init__(self) -> None:
        self.pressed = False

    def passes_on(self, error: BaseException) -> bool:
        """True for the exceptions discovery must not contain: the user's own Ctrl-C."""
        return isinstance(error, KeyboardInterrupt) and self.pressed


@contextlib.contextmanager
def watching_interrupts() -> Iterator[InterruptWatch]:
    """Note SIGINT while the block runs, then handle it as before (a plugin's own
    `raise KeyboardInterrupt` is thereby told apart from the user's Ctrl-C). Only the main
    thread receives signals; elsewhere any KeyboardInterrupt comes from plugin code."""
    watch = InterruptWatch()
    previous = None
    if threading.current_thread() is threading.main_thread():
        try:
            previous = signal.getsignal(signal.SIGINT)
        except (ValueError, OSError):  # no signals here (a subinterpreter)
            previous = None
    if not callable(previous):  # ignored, default (the process dies) or set outside Python
        yield watch
        return

    def noted(signum: int, frame: object) -> None:
        watch.pressed = True
        previous(signum, frame)  # the default handler raises KeyboardInterrupt

    signal.signal(signal.SIGINT, noted)
    try:
        yield watch
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def output_to_stderr() -> Iterator[None]:
    """Send what plugin code prints to stdout to stderr instead (Python-level writes; the
    `plugrad` command also redirects the file descriptor, for C code)."""
    target = sys.stderr if sys.stderr is not None else sys.stdout
    with contextlib.redirect_stdout(target):
        yield


def describe(error: BaseException) -> str:
    """An exception and its chained causes as one line: 'ImportError: x (caused by OSError: y)'."""
    parts = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        message = str(current)
        parts.append(f"{type(current).__name__}: {message}" if message else type(current).__name__)
        current = current.__cause__ or current.__context__
    return " (caused by ".join(parts) + ")" * (len(parts) - 1)


def reason(error: BaseException, stage: str) -> str:
    """The listing's reason for a plugin that raised `error` during `stage` ("importing",
    ...). Exceptions that would end the process say that plugrad contained them."""
    text = describe(error)
    if not isinstance(error, Exception):
        text += f" (raised while {stage}; plugrad contained it so that it cannot end the program)"
    return text
