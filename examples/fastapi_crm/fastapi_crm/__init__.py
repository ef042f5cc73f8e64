"""A sales-ladder service on FastAPI and commitladder's ``AsyncTracker`` (see README.md)."""

from .app import HttpMessenger, Settings, create_app, create_app_from_env, work

__all__ = ["HttpMessenger", "Settings", "create_app", "create_app_from_env", "work"]
