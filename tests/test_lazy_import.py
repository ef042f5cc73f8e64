"""`import commitladder` is light: each public name's module loads when the name is first
used, the definition layer (pydantic, PyYAML) and the engine (transitions) with the first
ladder, and type checkers, `dir()` and `__all__` still see every name."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest

import commitladder

HEAVY = ("pydantic", "yaml", "transitions", "sqlalchemy", "hypothesis", "typer", "rich", "click")
SEED = Path(commitladder.__file__).parent / "seed" / "solopreneur.yaml"


def loaded_after(code: str) -> set[str]:
    """The top-level packages in ``sys.modules`` after running ``code`` in a fresh Python."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.check_output([sys.executable, "-c", script], text=True)
    return {name.split(".")[0] for name in json.loads(out)} | set(json.loads(out))


def test_import_commitladder_loads_none_of_the_heavy_modules() -> None:
    loaded = loaded_after("import commitladder")
    assert sorted(loaded & set(HEAVY)) == []
    assert "commitladder._definition" not in loaded  # the pydantic models


def test_the_service_layer_needs_no_definition_layer() -> None:
    """A worker that takes ladders from elsewhere, or only names the classes, pays nothing."""
    code = (
        "import commitladder as cl\n"
        "cl.Tracker, cl.Enrollment, cl.MemoryStore, cl.SteppableClock, cl.AskIssued\n"
        "cl.DefinitionError, cl.Refused, cl.load, cl.Ladder, cl.parse_duration"
    )
    loaded = loaded_after(code)
    assert sorted(loaded & {"pydantic", "yaml", "transitions"}) == []


def test_the_first_ladder_loads_what_it_needs() -> None:
    loaded = loaded_after(f"import commitladder as cl\ncl.load({str(SEED)!r})")
    assert {"pydantic", "yaml", "commitladder._definition"} <= loaded


def test_a_definition_model_loads_pydantic() -> None:
    assert "pydantic" in loaded_after("import commitladder as cl\ncl.RungDefinition")


INIT = ast.parse(Path(commitladder.__file__).read_text(encoding="utf-8"))


def declared_for_type_checkers() -> dict[str, str]:
    """Name -> module of the package's own imports under ``if TYPE_CHECKING:``."""
    (block,) = [
        node
        for node in INIT.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    ]
    return {
        alias.name: "." * node.level + (node.module or "")
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.level > 0
        for alias in node.names
    }


def lazy_homes() -> dict[str, str]:
    """Name -> module of the table ``__getattr__`` imports from, read from the source."""
    (table,) = [
        node.value
        for node in INIT.body
        if isinstance(node, ast.AnnAssign) and ast.unparse(node.target) == "_HOMES"
    ]
    assert table is not None
    homes: dict[str, tuple[str, ...]] = ast.literal_eval(table)
    return {name: module for module, names in homes.items() for name in names}


SUBMODULES = {"commands"}  # public modules the front door also serves, light ones


def test_type_checkers_the_lazy_table_and_all_name_the_same_things() -> None:
    declared = declared_for_type_checkers()
    assert {name: declared.pop(name) for name in SUBMODULES} == dict.fromkeys(SUBMODULES, ".")
    assert declared == lazy_homes()
    assert sorted([*lazy_homes(), *SUBMODULES], key=lambda n: (n[0].islower(), n)) == (
        commitladder.__all__
    )


@pytest.mark.parametrize("name", commitladder.__all__)
def test_each_public_name_is_the_object_of_its_home_module(name: str) -> None:
    if name in SUBMODULES:
        assert getattr(commitladder, name) is import_module(f"commitladder.{name}")
    else:
        home = import_module(lazy_homes()[name], "commitladder")
        assert getattr(commitladder, name) is getattr(home, name)
    assert name in dir(commitladder)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="module 'commitladder' has no attribute 'Nope'"):
        commitladder.Nope  # type: ignore[attr-defined]  # noqa: B018


def test_a_star_import_brings_every_public_name() -> None:
    space: dict[str, object] = {}
    exec("from commitladder import *", space)
    assert set(commitladder.__all__) <= set(space)


def test_public_submodules_still_import_through_the_package() -> None:
    loaded = loaded_after("from commitladder import testing")
    assert "hypothesis" in loaded
