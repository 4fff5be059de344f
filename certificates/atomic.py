"""Size-bounded reads: ``read_bytes_bounded`` never reads more than ``max_bytes + 1`` bytes, whatever
the file claims (the atomic writes live with the prover, :mod:`prover.writers`)."""

from __future__ import annotations

import errno
import os
import stat


class FileTooLargeError(Exception):
    """The file holds more than the allowed number of bytes; ``size`` is what was observed."""

    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__(f"{size} bytes, over the {max_bytes}-byte limit")
        self.size = size
        self.max_bytes = max_bytes


def read_bytes_bounded(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The whole content of the regular file at ``path``, which must hold at most ``max_bytes`` bytes.

    The file is opened without blocking (O_NONBLOCK: opening a FIFO with no writer returns at once) and
    its type and size are taken from that descriptor with os.fstat, so a file swapped for a FIFO or device
    between a check and the open cannot be read; what was read must have exactly the size fstat gave (a
    file that changes in between is an error); at most ``size + 1 <= max_bytes + 1`` bytes are requested.
    Raises FileTooLargeError for a larger file, IsADirectoryError for a directory, OSError("not a regular
    file") for a FIFO, device or socket (reading those could block or never end), and OSError for anything
    the OS refuses.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    descriptor = os.open(path, flags)
    try:
        status = os.fstat(descriptor)
        if stat.S_ISDIR(status.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", os.fspath(path))
        if not stat.S_ISREG(status.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        if status.st_size > max_bytes:
            raise FileTooLargeError(status.st_size, max_bytes)
        # Read st_size + 1 bytes, not max_bytes + 1: a buffered read allocates its whole request up front.
        with os.fdopen(descriptor, "rb") as handle:
            descriptor = -1  # the handle owns it now
            data = handle.read(status.st_size + 1)
    finally:
        if descriptor >= 0:
            os.close(descriptor)
    if len(data) != status.st_size:
        raise OSError(errno.EIO, "file changed while being read", os.fspath(path))
    return data
