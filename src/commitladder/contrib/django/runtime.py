"""The project's ``Tracker``, built once from ``settings.COMMITLADDER``.

    COMMITLADDER = {
        "LADDERS": [BASE_DIR / "ladders" / "solopreneur.yaml"],  # files or Ladder objects
        "DATABASE": "default",                                    # the alias to store in
        "MESSENGER": "commitladder.contrib.django.messengers.EmailMessenger",  # or None
        "LISTENERS": ["crm.ladders.on_event"],                    # callables or dotted paths
        "CLOCK": None,                                            # an object with now()
        "TABLE_PREFIX": "commitladder_",                          # set before the migration
        "DISPLAY_NAME": "commitladder.contrib.django.models.display_name",  # names people
        "HOOKS": ["crm.hooks.keep_deal_stage"],  # run inside the command's transaction
        "ON_DELETE": None,  # or "end" / "forget": see contrib.django.lifecycle
    }

Dotted paths name a class or factory called without arguments (``MESSENGER``,
``CLOCK``) or a callable used as it is (``LISTENERS``, ``DISPLAY_NAME``: prospect id ->
the name refusal sentences use), the way Django names backends.
``HOOKS`` are callables (or their paths) that receive each write's ``StageChange``
inside the transaction (``Tracker(hooks=...)``).
Listeners added with ``tracker().add_listener`` survive a rebuild (a settings change).
Nothing here runs a command: it only wires objects up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS
from django.utils.module_loading import import_string

import commitladder as cl
from commitladder.sql import tables

from .store import PREFIX, DjangoStore

__all__ = [
    "SETTINGS",
    "configured_database",
    "configured_prefix",
    "remove_listener",
    "reset",
    "tracker",
]

Listener = Callable[[cl.Event], object]

DEFAULT_MESSENGER = "commitladder.contrib.django.messengers.EmailMessenger"
SETTINGS = frozenset(
    {
        "LADDERS",
        "DATABASE",
        "MESSENGER",
        "LISTENERS",
        "CLOCK",
        "TABLE_PREFIX",
        "DISPLAY_NAME",
        "HOOKS",
        "ON_DELETE",
    }
)
"""The keys ``settings.COMMITLADDER`` may hold."""

_lock = threading.RLock()
_tracker: cl.Tracker | None = None
_added: list[Listener] = []  # added at run time: they outlive a rebuilt tracker


def _config() -> dict[str, Any]:
    config = getattr(settings, "COMMITLADDER", {})
    if not isinstance(config, dict):
        raise ImproperlyConfigured(
            f"settings.COMMITLADDER must be a dict, not {type(config).__name__}"
        )
    unknown = set(config) - SETTINGS
    if unknown:
        raise ImproperlyConfigured(
            f"unknown COMMITLADDER settings: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(SETTINGS))})"
        )
    return config


def configured_database() -> str:
    """The database alias the ladder tables live in (``COMMITLADDER["DATABASE"]``)."""
    return str(_config().get("DATABASE", DEFAULT_DB_ALIAS))


def configured_prefix() -> str:
    """The ladder tables' name prefix (``COMMITLADDER["TABLE_PREFIX"]``)."""
    prefix = _config().get("TABLE_PREFIX", PREFIX)
    if not isinstance(prefix, str):
        raise ImproperlyConfigured(f"COMMITLADDER['TABLE_PREFIX'] must be text, not {prefix!r}")
    try:
        tables(prefix)
    except ValueError as exc:
        raise ImproperlyConfigured(f"COMMITLADDER['TABLE_PREFIX']: {exc}") from exc
    return prefix


def _ladder(item: Any) -> cl.Ladder:
    if isinstance(item, cl.Ladder):
        return item
    if isinstance(item, (str, Path)):
        return cl.load(item)
    raise ImproperlyConfigured(f"COMMITLADDER['LADDERS'] holds {item!r}: give files or Ladders")


def _object(key: str, value: Any, *, call: bool) -> Any:
    """A setting's object: a dotted path imported (and called, for factories), or as given."""
    if isinstance(value, str):
        try:
            value = import_string(value)
        except ImportError as exc:
            raise ImproperlyConfigured(f"COMMITLADDER[{key!r}]: cannot import {value!r}") from exc
        if not call:
            return value
        try:
            return value()
        except TypeError as exc:
            raise ImproperlyConfigured(
                f"COMMITLADDER[{key!r}]: {value!r} cannot be called without arguments ({exc})"
            ) from exc
    return value


def _callables(config: dict[str, Any], key: str) -> list[Any]:
    """The callables a list setting (``LISTENERS``, ``HOOKS``) names, or holds."""
    found = []
    for item in config.get(key, ()):
        listener = _object(key, item, call=False)
        if not callable(listener):
            raise ImproperlyConfigured(
                f"COMMITLADDER[{key!r}] holds {item!r}, which is not callable"
            )
        found.append(listener)
    return found


class ProjectTracker(cl.Tracker):
    """The settings' tracker: listeners added to it are kept for the next one too."""

    def add_listener(self, listener: Listener) -> None:
        with _lock:
            _added.append(listener)
        super().add_listener(listener)


def _build() -> cl.Tracker:
    config = _config()
    messenger = _object("MESSENGER", config.get("MESSENGER", DEFAULT_MESSENGER), call=True)
    clock = _object("CLOCK", config.get("CLOCK"), call=True)
    if clock is not None and not callable(getattr(clock, "now", None)):
        raise ImproperlyConfigured(
            f"COMMITLADDER['CLOCK'] is {clock!r}: give an object with a now() method"
        )
    display_name = _object("DISPLAY_NAME", config.get("DISPLAY_NAME"), call=False)
    if display_name is not None and not callable(display_name):
        raise ImproperlyConfigured(
            f"COMMITLADDER['DISPLAY_NAME'] is {display_name!r}: give a callable "
            "(prospect id -> name) or its dotted path"
        )
    try:
        store = DjangoStore(configured_database(), prefix=configured_prefix())
        return ProjectTracker(
            store=store,
            messenger=messenger,
            clock=clock,
            ladders=[_ladder(item) for item in config.get("LADDERS", ())],
            listeners=[*_callables(config, "LISTENERS"), *_added],
            hooks=_callables(config, "HOOKS"),
            display_name=display_name,
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"settings.COMMITLADDER: {exc}") from exc


def tracker() -> cl.Tracker:
    """The project's tracker (built on first use, rebuilt when the settings change)."""
    global _tracker
    with _lock:
        if _tracker is None:
            _tracker = _build()
        return _tracker


def remove_listener(listener: Listener) -> None:
    """Stop calling a listener added with ``tracker().add_listener`` (tests' tear-down)."""
    global _tracker
    with _lock:
        _added.remove(listener)
        _tracker = None


def reset(*, setting: str = "COMMITLADDER", **kwargs: Any) -> None:
    """Forget the tracker (``setting_changed`` calls this, e.g. under ``override_settings``);
    the next ``tracker()`` builds one from the settings, with the listeners added so far."""
    global _tracker
    if setting == "COMMITLADDER":
        with _lock:
            _tracker = None
