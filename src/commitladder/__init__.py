"""commitladder: ask for one micro-commitment at a time.

A ladder declared in YAML or Python compiles to a guarded ``transitions`` machine;
enrollments climb it one ask at a time, and every rule of the ladder is enforced.
This module is the front door: it re-exports the public contract (from ``_api``, on
the first use of a name, so the command line and the pytest plugin start fast) and imports
nothing heavy (no database drivers, no CLI stack, no hypothesis).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._api import *  # noqa: F403
    from ._api import __all__ as __all__
else:
    # runtime only: type checkers see the names above, and an unknown name stays an error

    def __getattr__(name: str) -> Any:
        """Serve a public name, importing the library on its first use (PEP 562).

        ``commitladder --version``, ``--help`` and the pytest plugin import this package
        but none of its names, so they start without pydantic and the compiled core.
        """
        if name.startswith("_") and name != "__all__":  # private and dunder probes
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        api = import_module(f"{__name__}._api")
        if name != "__all__" and name not in api.__all__:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(api, name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *import_module(f"{__name__}._api").__all__})


__version__ = "0.1.0.dev0"
