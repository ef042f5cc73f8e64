"""The JSON Schema: made from the models, committed as docs/schema/ladder.schema.json, named
by every example's modeline, and accepting the examples while refusing wrong shapes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import commitladder as cl
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


# ---- durations: the editor and the loader accept the same text ---------------------------

TINY: dict[str, Any] = {
    "ladder": "tiny",
    "start": "hello",
    "rungs": {"hello": {"kind": "call", "size": 1, "next": "won"}},
    "ends": {"won": {"result": "won"}},
}
UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
LONGEST = 3650 * 86400


def schema_accepts(duration: str) -> bool:
    data = {**TINY, "defaults": {"cooldown": duration}}
    return jsonschema.Draft202012Validator(json.loads(COMMITTED.read_text())).is_valid(data)


def loader_accepts(duration: str) -> bool:
    """Whether the loader takes ``duration``; when it does not, it blames that field alone."""
    try:
        cl.Ladder.from_dict({**TINY, "defaults": {"cooldown": duration}})
    except cl.DefinitionError as exc:
        refused = [p.path for p in exc.problems]
    else:
        return True
    assert refused == ["defaults.cooldown"]
    return False


def iso_parts_add_up_to_more_than_ten_years(duration: str) -> bool:
    """The one thing a pattern cannot check: an ISO duration whose parts each fit in ten
    years but whose sum does not. The schema lets it through; the loader says why not."""
    parts = re.findall(r"([0-9]+)([A-Za-z])", duration)
    total = sum(int(number) * UNIT_SECONDS[unit.lower()] for number, unit in parts)
    return duration.strip()[:1] in "Pp" and len(parts) > 1 and total > LONGEST


def near_limits() -> st.SearchStrategy[int]:
    limits = [LONGEST // seconds for seconds in UNIT_SECONDS.values()]
    return st.sampled_from([0, 1, *limits, *(n + 1 for n in limits), 10**20])


def numbers() -> st.SearchStrategy[str]:
    value = st.one_of(st.integers(0, 400), near_limits(), st.integers(0, 10**12))
    return st.builds(lambda zeros, n: "0" * zeros + str(n), st.integers(0, 3), value)


def short_forms() -> st.SearchStrategy[str]:
    space = st.sampled_from(["", "", " ", "\t", "\n", "  "])
    unit = st.sampled_from("smhdw" * 3 + "SMHDWyY")
    return st.builds(lambda a, n, b, u, c: a + n + b + u + c, space, numbers(), space, unit, space)


def iso_forms() -> st.SearchStrategy[str]:
    def part(letters: str) -> st.SearchStrategy[str]:
        return st.one_of(
            st.just(""), st.builds(lambda n, u: n + u, numbers(), st.sampled_from(letters))
        )

    date = st.tuples(part("Ww"), part("Dd"), part("YyMm"))
    time = st.tuples(st.sampled_from(["", "T", "t"]), part("Hh"), part("Mm"), part("Ss"))
    return st.builds(
        lambda p, d, t: p + "".join(d[:2] if d[2] == "" else d) + "".join(t),
        st.sampled_from(["P", "p", "", "PP"]),
        date,
        time,
    )


def mangled(text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A valid-looking duration with one character inserted or removed."""
    alphabet = st.sampled_from("0123456789PTWDHMSpdhmsw -+.,:\t\n\u00a0\uff13")

    def edit(s: str, at: int, char: str, remove: bool) -> str:
        at = at % (len(s) + 1)
        return s[:at] + s[at + 1 :] if remove else s[:at] + char + s[at:]

    return st.builds(edit, text, st.integers(0, 40), alphabet, st.booleans())


durations = st.one_of(
    short_forms(),
    iso_forms(),
    mangled(st.one_of(short_forms(), iso_forms())),
    st.text(alphabet="0123456789PTWDHMSpdhmsw \t-", max_size=10),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(durations)
def test_the_schema_and_the_loader_accept_the_same_durations(duration: str) -> None:
    """Regression: the schema's pattern (^[Pp]\\w+$) accepted P1M, 0d and Pfoo."""
    by_schema, by_loader = schema_accepts(duration), loader_accepts(duration)
    event(f"schema {by_schema}, loader {by_loader}")
    if by_schema and not by_loader:
        assert iso_parts_add_up_to_more_than_ten_years(duration)
    else:
        assert by_schema == by_loader


@pytest.mark.parametrize(
    ("duration", "accepted"),
    [
        ("3d", True),
        ("P1DT12H", True),
        ("3650d", True),
        ("P1M", False),
        ("0d", False),
        ("Pfoo", False),
        ("3651d", False),
        ("9999999999w", False),
        ("3 days", False),
    ],
)
def test_the_schema_refuses_what_the_loader_refuses(duration: str, accepted: bool) -> None:
    assert schema_accepts(duration) is accepted
    assert loader_accepts(duration) is accepted


def test_only_iso_parts_that_add_up_past_ten_years_pass_the_schema_and_fail_the_loader() -> None:
    assert schema_accepts("P3650DT1H")
    with pytest.raises(cl.DefinitionError, match="at most 10 years"):
        cl.Ladder.from_dict({**TINY, "defaults": {"cooldown": "P3650DT1H"}})
