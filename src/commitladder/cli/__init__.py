"""The ``commitladder`` command line (needs the ``cli`` extra: Typer and Rich).

One module per command group (``_definitions``: validate, check, schema;
``_drawing``: graph, paths; ``_proving``: test; ``_simulation``: simulate, funnel;
``_demo``: demo), registered on the app by ``_app``; ``_output`` holds what they share.

Exit codes, for every command: 0 success, 1 the input has problems (a ladder is
invalid, a lint error, a rule broke), 2 a usage error (bad options, a missing file,
a missing extra or program). Errors are printed without tracebacks unless
``--debug`` is given.
"""

from ._app import app, main
from ._demo import seed_ladder

__all__ = ["app", "main", "seed_ladder"]
