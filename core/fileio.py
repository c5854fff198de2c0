"""Checkpoint files on disk: regular files only, replaced atomically.

`write_atomically(path, data)`: the file at `path` (through symlinks: the file they lead to)
becomes `data` in one step. A temporary file in the target's directory is written, fsynced and
renamed over it, so a reader or a crash sees the old file or the whole new one, and a symlink
stays a symlink. The target itself is never opened: a directory, device node, FIFO or socket
there is refused before anything is written. `read_regular(path)` reads a regular file and
refuses the same special files (reading a FIFO would block forever).
"""

from __future__ import annotations

import contextlib
import os
import stat

__all__ = ["read_regular", "write_atomically"]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_regular(action: str, path: str, real: str, mode: int, advice: str) -> OSError:
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    where = repr(path) if real == os.path.abspath(path) else f"{path!r} (-> {real!r})"
    error = IsADirectoryError if stat.S_ISDIR(mode) else OSError
    return error(f"can't {action} {where}: it is {kind}, not a regular file; {advice}")


def _stat_or_none(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _create_temporary(directory: str, base: str, mode: int) -> tuple[int, str]:
    """A new file next to the target. Created with `mode` through the umask (as open() would
    create the target), unlike tempfile.mkstemp's fixed 0o600."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f".{base}.{os.urandom(4).hex()}.tmp")
        try:
            return os.open(tmp, flags, mode), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"can't create a temporary file in {directory!r}")


def _fsync_directory(directory: str) -> None:
    """Make the rename durable; best effort (not every filesystem allows it)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Replace (or create) the regular file at `path` with `data`, atomically."""
    name = os.fspath(path)
    real = os.path.realpath(name)  # follows symlinks, a dangling one to the file it names
    old = _stat_or_none(real)  # a symlink loop raises OSError (ELOOP) naming the path
    if old is not None and not stat.S_ISREG(old.st_mode):
        raise _not_regular(
            "save to", name, real, old.st_mode, "give the path of a file to create or replace"
        )
    directory = os.path.dirname(real)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"can't save to {name!r}: directory {directory!r} does not exist")
    fd, tmp = _create_temporary(directory, os.path.basename(real), 0o600 if old else 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if old is not None:  # the replacement keeps the old file's permissions and owner
            os.chmod(tmp, old.st_mode & 0o777)
            if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                with contextlib.suppress(OSError):
                    os.chown(tmp, old.st_uid, old.st_gid)
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def read_regular(path: str | os.PathLike) -> bytes:
    """The bytes of the regular file at `path` (FileNotFoundError, or OSError for a special
    file, before anything is read)."""
    name = os.fspath(path)
    advice = "a checkpoint is a regular file"
    found = _stat_or_none(name)
    if found is None:
        raise FileNotFoundError(f"no checkpoint at {name!r}")
    if not stat.S_ISREG(found.st_mode):
        raise _not_regular("load", name, os.path.realpath(name), found.st_mode, advice)
    # O_NONBLOCK: should a FIFO have replaced the file since, opening it does not wait.
    fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular("load", name, os.path.realpath(name), mode, advice)
        return f.read()
