"""Integrations with other software, each behind its own optional dependency.

Nothing here is imported by ``import commitladder``: import the submodule you use
(``commitladder.contrib.smtp``, ``commitladder.contrib.django``).
"""
