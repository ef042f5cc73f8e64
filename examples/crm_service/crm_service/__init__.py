"""A small CRM over HTTP that runs its sales ladders with commitladder.

Contacts and notes are the CRM's own tables; the ladder tables live in the same
database, and every request is one transaction over both.
"""

from .app import create_app
from .service import Crm, Settings

__all__ = ["Crm", "Settings", "create_app"]
