"""commitladder as a Django app (install ``commitladder[django]``).

Add ``"commitladder.contrib.django"`` to ``INSTALLED_APPS`` and run ``migrate``: the
app's migration creates the ladder tables (``SqlStore``'s schema) in your database.
``tracker()`` is the project's ``Tracker``, configured by ``settings.COMMITLADDER``;
its store, ``DjangoStore``, runs on Django's own connection, so ladder commands join
your ``transaction.atomic()`` blocks. ``models.LadderProspect`` links a model of yours
to its enrollments; the admin lists enrollments with their position, open ask and
history; ``manage.py commitladder_worker`` runs timers and relays the outbox;
``testing`` empties the ladder tables between tests.

Only this package imports Django; ``import commitladder`` never does.
"""

from __future__ import annotations

from .runtime import remove_listener, tracker
from .store import DjangoStore

__all__ = ["DjangoStore", "remove_listener", "tracker"]
