"""Names for people in refusal sentences: the host's name of a prospect, the ladder's
titles of rungs and ends.

A host hands ``Tracker`` or an ``Enrollment`` a ``DisplayName`` (prospect id -> the
name a salesperson knows); while a command is decided under ``naming(...)``, the
sentences of its refusals use that name and the rungs' and ends' titles. Only the
words change: a refusal's data (``to_dict()``'s ids) and the decision itself never
depend on it. A display-name callable that fails or returns no text leaves the id in
the sentence: a refusal is never lost to its wording.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["DisplayName", "naming", "prospect_name", "speaking"]

DisplayName = Callable[[str], "str | None"]
"""Turns a prospect id into the name people know it by (``None``: no name known)."""

_naming: ContextVar[DisplayName | None] = ContextVar("commitladder_naming", default=None)
_log = logging.getLogger("commitladder")


@contextmanager
def naming(display_name: DisplayName | None) -> Iterator[None]:
    """Decide under ``display_name``: refusal sentences name people and steps."""
    token = _naming.set(display_name)
    try:
        yield
    finally:
        _naming.reset(token)


def speaking() -> bool:
    """True while a ``naming`` is in force: sentences use names and titles."""
    return _naming.get() is not None


def prospect_name(prospect: str) -> str:
    """The name of ``prospect`` for a sentence: the host's, else the id itself."""
    display_name = _naming.get()
    if display_name is None:
        return prospect
    try:
        name = display_name(prospect)
    except Exception:
        _log.exception("display name of %r failed; the sentence keeps the id", prospect)
        return prospect
    return name if isinstance(name, str) and name.strip() else prospect
