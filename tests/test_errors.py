"""The error tree: drawn in _errors.py's docstring and in docs/reference/errors.md, as it is."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

import commitladder as cl
from commitladder import _errors

DOCS = Path(__file__).parent.parent / "docs" / "reference" / "errors.md"


def drawn(text: str) -> set[tuple[str, str]]:
    """The (parent, child) pairs of a tree drawn with box characters under ``LadderError``."""
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if line.strip() == "LadderError")
    base = lines[top].index("L")
    parents = ["LadderError"]
    pairs: set[tuple[str, str]] = set()
    for line in lines[top + 1 :]:
        found = re.search(r"[├└]── (\w+)", line)
        if found is None:
            break
        depth = (found.start() - base) // 4 + 1
        del parents[depth:]
        pairs.add((parents[-1], found.group(1)))
        parents.append(found.group(1))
    return pairs


def real(cls: type[BaseException] = cl.LadderError) -> set[tuple[str, str]]:
    """The (parent, child) pairs of the public error classes."""
    pairs: set[tuple[str, str]] = set()
    for sub in cls.__subclasses__():
        if sub.__name__ in cl.__all__:
            pairs.add((cls.__name__, sub.__name__))
            pairs |= real(sub)
    return pairs


@pytest.mark.parametrize("where", ["docstring", "docs"])
def test_the_drawn_tree_is_the_real_tree(where: str) -> None:
    text = (_errors.__doc__ or "") if where == "docstring" else DOCS.read_text()
    assert drawn(text) == real()


def test_every_error_prints_as_the_front_door_names_it() -> None:
    for name in {child for _, child in real()} | {"LadderError"}:
        cls = getattr(cl, name)
        assert cls.__module__ == "commitladder", name
        assert str(cls) == f"<class 'commitladder.{name}'>"


def test_a_refusal_pickles_and_compares_by_its_data() -> None:
    ask = cl.Ask("e#1", 2, "intro", "phone", cl.SteppableClock().now(), None)
    refusal = cl.AskPending("already asked", enrollment_id="e", ask=ask, rung="intro")
    again = pickle.loads(pickle.dumps(refusal))
    assert type(again) is cl.AskPending
    assert again.to_dict() == refusal.to_dict()
    assert again.ask == ask
