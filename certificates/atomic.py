"""File I/O with guarantees: atomic replacement and size-bounded reads.

``write_bytes_atomic`` guarantees that after it returns or raises, ``path`` holds either its previous
content (or does not exist) or exactly ``data``: never a prefix. On failure no temporary file is left.
``read_bytes_bounded`` never reads more than ``max_bytes + 1`` bytes, whatever the file claims.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat

_TEMP_SUFFIX = ".tmp"


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, fsync, then os.replace.

    The temporary file is created with O_EXCL (it never clobbers anything) and mode 0o666 filtered by
    the umask, like a file opened with ``open(path, "wb")``. Any exception (including
    KeyboardInterrupt) removes it before propagating.
    """
    target = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(target))
    temp = os.path.join(directory, f".{name}.{secrets.token_hex(8)}{_TEMP_SUFFIX}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(temp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        _remove_quietly(temp)
        raise
    _fsync_directory(directory)


def _remove_quietly(path: str) -> None:
    """Delete ``path`` if it exists; errors are ignored because the original error matters more."""
    with contextlib.suppress(OSError):
        os.unlink(path)


def _fsync_directory(directory: str) -> None:
    """Make the rename durable where the OS supports fsync on a directory (POSIX).

    The new content is already in place when this runs, so a platform or file system that refuses
    (no O_DIRECTORY, EINVAL, EACCES) only loses durability against power failure, not atomicity.
    """
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class FileTooLargeError(Exception):
    """The file holds more than the allowed number of bytes; ``size`` is what was observed."""

    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__(f"{size} bytes, over the {max_bytes}-byte limit")
        self.size = size
        self.max_bytes = max_bytes


def read_bytes_bounded(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The whole content of the regular file at ``path``, which must hold at most ``max_bytes`` bytes.

    The size is checked with os.stat before reading, and what was read must have exactly that size (a
    file that changes in between is an error); at most ``size + 1 <= max_bytes + 1`` bytes are requested.
    Raises FileTooLargeError for a larger file, IsADirectoryError for a directory, OSError("not a regular
    file") for a FIFO, device or socket (reading those could block or never end), and OSError for anything
    the OS refuses.
    """
    status = os.stat(path)
    if stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", os.fspath(path))
    if not stat.S_ISREG(status.st_mode):
        raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
    if status.st_size > max_bytes:
        raise FileTooLargeError(status.st_size, max_bytes)
    # Read st_size + 1 bytes, not max_bytes + 1: a buffered read allocates its whole request up front.
    with open(path, "rb") as handle:
        data = handle.read(status.st_size + 1)
    if len(data) != status.st_size:
        raise OSError(errno.EIO, "file changed while being read", os.fspath(path))
    return data
