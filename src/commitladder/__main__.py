"""``python -m commitladder``: the same as the ``commitladder`` command."""

from commitladder.cli import main

if __name__ == "__main__":
    main()
