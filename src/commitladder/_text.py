"""Text from outside made safe to store: error messages of messengers and the like.

A database refuses some ``str`` values: lone surrogates cannot be encoded as UTF-8,
and PostgreSQL refuses NUL characters in text. An exception's message is written by
someone else's code (a messenger, a mail server), so it may hold either, or its
``__str__`` may raise. These functions always return storable text; they never raise.
"""

from __future__ import annotations

__all__ = ["MAX_ERROR_TEXT", "clean_text", "safe_error_text"]

MAX_ERROR_TEXT = 2000  # characters of an error kept in the outbox


def clean_text(text: str, *, limit: int = MAX_ERROR_TEXT) -> str:
    """``text`` as valid UTF-8 without NUL characters, at most ``limit`` characters.

    Lone surrogates become ``\\udcff``-style escapes and NUL becomes ``\\x00``, so the
    text still shows what was there.
    """
    text = text[:limit]  # first: a message of megabytes costs nothing more than a short one
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text[:limit]


def safe_error_text(exc: BaseException) -> str:
    """``"<ExceptionType>: <message>"`` for ``exc``, cleaned for storage; never raises,
    even when the exception's ``__str__`` does."""
    name = type(exc).__name__
    try:
        message = str(exc)  # a __str__ may raise, or return a non-str (a TypeError here)
    except Exception as broken:
        message = f"<its message could not be read: {type(broken).__name__}>"
    return clean_text(f"{name}: {message}" if message else name)
