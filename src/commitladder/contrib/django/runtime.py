"""The project's ``Tracker``, built once from ``settings.COMMITLADDER``.

    COMMITLADDER = {
        "LADDERS": [BASE_DIR / "ladders" / "solopreneur.yaml"],  # files or Ladder objects
        "DATABASE": "default",                                    # the alias to store in
        "MESSENGER": "commitladder.contrib.django.messengers.EmailMessenger",  # or None
        "ON_DELETE": None,            # or "end" / "forget": see contrib.django.lifecycle
    }

``MESSENGER`` is the dotted path of a class (or factory) called without arguments, the
way Django names backends. Nothing here runs a command: it only wires objects up.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

import commitladder as cl

from .store import DjangoStore

__all__ = ["reset", "tracker"]

DEFAULT_MESSENGER = "commitladder.contrib.django.messengers.EmailMessenger"

_lock = threading.Lock()
_tracker: cl.Tracker | None = None


def _config() -> dict[str, Any]:
    config = getattr(settings, "COMMITLADDER", {})
    if not isinstance(config, dict):
        raise ImproperlyConfigured("settings.COMMITLADDER must be a dict")
    unknown = set(config) - {"LADDERS", "DATABASE", "MESSENGER", "ON_DELETE"}
    if unknown:
        raise ImproperlyConfigured(f"unknown COMMITLADDER settings: {', '.join(sorted(unknown))}")
    return config


def _ladder(item: Any) -> cl.Ladder:
    if isinstance(item, cl.Ladder):
        return item
    if isinstance(item, (str, Path)):
        return cl.load(item)
    raise ImproperlyConfigured(f"COMMITLADDER['LADDERS'] holds {item!r}: give files or Ladders")


def tracker() -> cl.Tracker:
    """The project's tracker (built on first use, rebuilt when the settings change)."""
    global _tracker
    with _lock:
        if _tracker is None:
            config = _config()
            messenger_path = config.get("MESSENGER", DEFAULT_MESSENGER)
            _tracker = cl.Tracker(
                store=DjangoStore(config.get("DATABASE", "default")),
                messenger=import_string(messenger_path)() if messenger_path else None,
                ladders=[_ladder(item) for item in config.get("LADDERS", ())],
            )
        return _tracker


def reset(*, setting: str = "COMMITLADDER", **kwargs: Any) -> None:
    """Forget the tracker (``setting_changed`` calls this, e.g. under ``override_settings``)."""
    global _tracker
    if setting == "COMMITLADDER":
        with _lock:
            _tracker = None
