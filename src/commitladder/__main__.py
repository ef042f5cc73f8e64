"""``python -m commitladder``: the same as the ``commitladder`` command."""

from commitladder._entry import main

if __name__ == "__main__":
    main()
