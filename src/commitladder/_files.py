"""Reading a ladder file from disk: a regular file only, bounded, and never waiting.

The size the file system reports is used to refuse a big file early, never to trust
a small one: ``/proc`` files say 0 bytes, ``/dev/zero`` never ends, and a FIFO opened for
reading waits for a writer. So only a regular file is opened, without blocking, and at
most the limit plus one byte is read.
"""

from __future__ import annotations

import os
import stat

from ._errors import DefinitionError, LadderFileNotFoundError, Problem

__all__ = ["read_ladder_file"]


def read_ladder_file(name: str, *, max_bytes: int) -> bytes:
    """The bytes of the regular file ``name``, at most ``max_bytes`` of them.

    Raises ``LadderFileNotFoundError`` when there is no file, and ``DefinitionError``
    for anything else that keeps it from being read.
    """

    def refused(message: str) -> DefinitionError:
        return DefinitionError([Problem("", message, name)])

    try:
        info = os.stat(name)
    except FileNotFoundError as exc:
        raise LadderFileNotFoundError(name) from exc
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise refused(f"cannot read the file: {_reason(exc)}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise refused(
            f"this is {_file_kind(info.st_mode)}, not a file: a ladder is read from a regular file"
        )
    if info.st_size > max_bytes:
        raise refused(
            f"the file is {info.st_size:,} bytes, over the limit of {max_bytes:,}; "
            "split it or raise max_bytes"
        )
    # O_NONBLOCK: were the file swapped for a FIFO since stat(), open() must not wait
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(name, flags)
    except FileNotFoundError as exc:
        raise LadderFileNotFoundError(name) from exc
    except OSError as exc:
        raise refused(f"cannot read the file: {_reason(exc)}") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise refused("this is no longer a regular file; a ladder is read from one")
        chunks: list[bytes] = []
        left = max_bytes + 1  # one byte past the limit tells a file over it
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 16))):
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise refused(f"cannot read the file: {_reason(exc)}") from exc
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > max_bytes:
        raise refused(
            f"the file holds more than {max_bytes:,} bytes, the limit (its size was not known "
            "beforehand); split it or raise max_bytes"
        )
    return raw


def _reason(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")
