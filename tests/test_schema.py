"""The JSON Schema: made from the models, committed as docs/schema/ladder.schema.json, named
by every example's modeline, and accepting the examples while refusing wrong shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from commitladder._schema import MODELINE, ladder_schema
from commitladder.cli import app
from support import EXAMPLE_FILES

ROOT = Path(__file__).parent.parent
COMMITTED = ROOT / "docs" / "schema" / "ladder.schema.json"
runner = CliRunner()


def test_the_committed_schema_is_what_commitladder_schema_prints() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert result.stdout == COMMITTED.read_text(encoding="utf-8"), (
        "regenerate it: commitladder schema -o docs/schema/ladder.schema.json"
    )


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_each_example_names_the_committed_schema_and_satisfies_it(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == MODELINE
    assert (path.parent / first.split("$schema=")[1]).resolve() == COMMITTED
    jsonschema.validate(yaml.safe_load(path.read_text()), ladder_schema())


def _seed_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE_FILES[0].read_text())
    return data


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda d: d["rungs"]["intro_call"].update(expire_after="3d"), "expire_after"),
        (lambda d: d["rungs"]["intro_call"].update(size=11), "11"),
        (lambda d: d["defaults"].update(cooldown="soon"), "soon"),
        (lambda d: d["rungs"]["intro_call"].update(kind="lunch"), "lunch"),
        (lambda d: d.update(simulation={"defaults": {"commit": 2}}), "2"),
    ],
    ids=["unknown field", "size over 10", "not a duration", "unknown kind", "chance over 1"],
)
def test_the_schema_refuses_what_an_editor_should_underline(change: Any, error: str) -> None:
    data = _seed_data()
    change(data)
    with pytest.raises(jsonschema.ValidationError, match=error):
        jsonschema.validate(data, ladder_schema())


def test_short_and_iso_durations_and_single_ids_are_both_accepted() -> None:
    data = _seed_data()
    data["defaults"]["cooldown"] = "P3D"
    data["start"] = ["intro_call"]
    data["defaults"]["channels"] = "email"
    jsonschema.validate(data, ladder_schema())
    assert json.loads(COMMITTED.read_text())["$schema"].endswith("2020-12/schema")
