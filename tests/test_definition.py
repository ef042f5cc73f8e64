"""Ladder definitions: every problem at once and located; defaults resolved; YAML, dict and
pydantic models give equal ladders that round-trip."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

import commitladder as cl
from commitladder._yaml import read_yaml
from support import EXAMPLE_FILES, GUARDS_YAML

BAD = """\
ladder: bad
start: [intr, discovery, lost]
defaults:
  expire_after: 3d
  follow_ups: {max: 2}
rungs:
  intro:
    kind: call
    size: 11
    next: discovry
  discovery:
    kind: meting
    size: 2
    cooldown: soon
    on_decline: parked
  both:
    kind: meeting
    size: 2
    next: won
    outcomes: {a: won}
  won:
    kind: call
    size: 1
    next: won
ends:
  won: {result: won}
  lost: {result: lost}
rules:
  requires_before: {discovry: [intro, nope]}
"""

# (path, line, column, a piece of the message) for every problem in BAD, in file order
EXPECTED = [
    ("start[0]", 2, 9, "unknown rung 'intr'; did you mean 'intro'?"),
    ("start[2]", 2, 26, "start must be a rung; 'lost' is an end"),
    ("defaults.expire_after", 4, 3, "unknown field 'expire_after'; did you mean 'expires_after'?"),
    ("defaults.follow_ups", 5, 15, "give `every:`"),
    ("rungs.intro.size", 9, 11, "less than or equal to 10"),
    ("rungs.intro.next", 10, 11, "unknown target 'discovry'; did you mean 'discovery'?"),
    ("rungs.discovery", 11, 3, "no way forward"),
    ("rungs.discovery.kind", 12, 11, "did you mean 'meeting'?"),
    ("rungs.discovery.cooldown", 14, 15, "'soon' is not a duration"),
    ("rungs.discovery.on_decline", 15, 17, "unknown target 'parked'; did you mean 'park'?"),
    ("rungs.both.outcomes", 20, 5, "not both"),
    ("ends.won", 26, 3, "'won' is both a rung and an end"),
    (
        "rules.requires_before.discovry",
        29,
        21,
        "unknown rung 'discovry'; did you mean 'discovery'?",
    ),
    ("rules.requires_before.discovry[1]", 29, 39, "unknown rung 'nope'"),
]


@pytest.fixture(scope="module")
def bad_problems() -> tuple[cl.Problem, ...]:
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_yaml(BAD, source="bad.yaml")
    return exc.value.problems


def test_definition_error_lists_every_problem_at_once(
    bad_problems: tuple[cl.Problem, ...],
) -> None:
    assert [p.path for p in bad_problems] == [path for path, *_ in EXPECTED]


@pytest.mark.parametrize(
    ("path", "line", "column", "message"), EXPECTED, ids=[path for path, *_ in EXPECTED]
)
def test_each_problem_is_located_and_reads_source_line_column_path_message(
    bad_problems: tuple[cl.Problem, ...], path: str, line: int, column: int, message: str
) -> None:
    (problem,) = [p for p in bad_problems if p.path == path]
    assert (problem.source, problem.line, problem.column) == ("bad.yaml", line, column)
    assert message in problem.message
    assert str(problem) == f"bad.yaml:{line}:{column}: {path}: {problem.message}"
    assert json.loads(json.dumps(problem.to_dict()))["line"] == line


def test_definition_error_message_names_the_count_and_every_problem() -> None:
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_yaml(BAD, source="bad.yaml")
    text = str(exc.value)
    assert text.startswith(f"the ladder definition has {len(EXPECTED)} problems:")
    for problem in exc.value.problems:
        assert str(problem) in text
    assert isinstance(exc.value, cl.LadderError)


def test_problems_from_a_dict_have_paths_but_no_location() -> None:
    data = {
        "ladder": "x",
        "start": "a",
        "rungs": {"a": {"kind": "call", "size": 0, "next": "b"}},
        "ends": {},
    }
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_dict(data)
    found = {p.path: p for p in exc.value.problems}
    assert set(found) == {"ends", "rungs.a.next", "rungs.a.size"}
    assert all(p.line is None and p.source is None for p in found.values())
    assert str(found["rungs.a.next"]) == "rungs.a.next: unknown target 'b'"


@pytest.mark.parametrize(
    ("rung", "message"),
    [
        ("{kind: call, size: 1}", "no way forward"),
        ("{kind: call, size: 1, next: won, outcomes: {a: won}}", "not both"),
        ("{kind: call, size: 1, outcomes: {}}", "at least one outcome"),
        ("{kind: call, size: 1, next: []}", "at least 1 item"),
        ("{kind: call, size: 1, next: won, on_expire: nowhere}", "unknown target 'nowhere'"),
        ("{kind: call, size: 1, next: won, follow_ups: {max: 1}}", "give `every:`"),
        ("{kind: call, size: 1, next: won, max_asks: 0}", "greater than or equal to 1"),
        ("{kind: call, size: 1, next: won, expires_after: 0d}", "not a positive duration"),
        ("{kind: call, size: 1, next: won, expires_after: 3}", "is not a duration"),
        ("{kind: call, size: 1, next: won, expires_after: -3d}", "is not a duration"),
        ("{kind: call, size: 1, next: 'bad id!'}", "not a valid id"),
    ],
    ids=[
        "no-next-nor-outcomes",
        "next-and-outcomes",
        "empty-outcomes",
        "empty-next",
        "unknown-on-expire",
        "follow-ups-without-every",
        "max-asks-zero",
        "zero-duration",
        "bare-number-duration",
        "negative-duration",
        "bad-id",
    ],
)
def test_a_bad_rung_is_refused(rung: str, message: str) -> None:
    text = f"ladder: x\nstart: a\nrungs:\n  a: {rung}\nends:\n  won: {{result: won}}\n"
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_yaml(text, source="x.yaml")
    assert any(message in p.message and p.line == 4 for p in exc.value.problems), exc.value


@pytest.mark.parametrize("start", ["true", "3", "2.5", "null"], ids=repr)
def test_a_start_that_is_not_an_id_or_a_list_is_a_located_problem(start: str) -> None:
    text = (
        f"ladder: x\nstart: {start}\nrungs:\n  a: {{kind: call, size: 1, next: won}}\n"
        "ends: {won: {result: won}}\n"
    )
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_yaml(text, source="x.yaml")
    assert [(p.path, p.line) for p in exc.value.problems][:1] == [("start", 2)]


def test_park_is_reserved() -> None:
    text = (
        "ladder: x\nstart: a\nrungs:\n  a: {kind: call, size: 1, next: park}\n"
        "  park: {kind: call, size: 1, next: a}\nends: {won: {result: won}}\n"
    )
    with pytest.raises(cl.DefinitionError, match="'park' is reserved"):
        cl.Ladder.from_yaml(text)


# ---- defaults and resolution -------------------------------------------------------------


def test_defaults_are_inherited_by_every_rung(guards: cl.Ladder) -> None:
    hello = guards.rungs["hello"]
    assert hello.expires_after == timedelta(days=3)
    assert (hello.follow_ups_max, hello.follow_ups_every) == (2, timedelta(days=1))
    assert hello.cooldown == timedelta(days=2)
    assert hello.next_ask_within == timedelta(days=1)
    assert hello.max_asks == 2
    assert hello.channels == ("email", "phone")
    assert (hello.on_decline, hello.on_expire) == ("park", "park")


def test_a_rungs_own_value_replaces_the_default(guards: cl.Ladder) -> None:
    assert guards.rungs["call"].channels == ("phone",)
    assert guards.rungs["nurture"].max_asks == 1
    assert guards.rungs["call"].on_expire == "nudge"


def test_explicit_null_on_a_rung_removes_an_inherited_default(guards: cl.Ladder) -> None:
    nudge = guards.rungs["nudge"]
    assert nudge.expires_after is None
    assert (nudge.follow_ups_max, nudge.follow_ups_every) == (0, None)
    assert nudge.cooldown == timedelta(days=2)  # not nulled: still inherited


def test_example_rungs_resolve_their_own_and_inherited_settings(
    ladders: dict[str, cl.Ladder],
) -> None:
    solo = ladders["solopreneur"]
    assert solo.rungs["admit_problem"].expires_after == timedelta(days=7)
    assert solo.rungs["intro_call"].expires_after == timedelta(days=5)
    assert solo.rungs["stay_in_touch"].next_ask_within == timedelta(weeks=6)
    assert solo.rungs["qualify"].max_asks == 4
    assert solo.rungs["qualify"].requires == frozenset({"pain", "timeline"})
    assert solo.rungs["purchase"].on_decline == "stay_in_touch"
    enterprise = ladders["enterprise"]
    assert enterprise.rungs["intro_call"].expires_after == timedelta(days=14)
    assert enterprise.rungs["nurture"].next_ask_within == timedelta(weeks=13)


@pytest.mark.parametrize(
    ("written", "expected"),
    [("won", ("won",)), ("[won]", ("won",)), ("[b, won]", ("b", "won"))],
    ids=["one-id", "list-of-one", "list"],
)
def test_next_is_one_id_or_a_list(written: str, expected: tuple[str, ...]) -> None:
    text = (
        f"ladder: x\nstart: a\nrungs:\n  a: {{kind: call, size: 1, next: {written}}}\n"
        "  b: {kind: call, size: 1, next: won}\nends: {won: {result: won}}\n"
    )
    ladder = cl.Ladder.from_yaml(text)
    assert ladder.rungs["a"].next == expected
    assert ladder.rungs["a"].targets == expected
    assert not ladder.rungs["a"].branches


def test_start_is_one_id_or_a_list() -> None:
    text = (
        "ladder: x\nstart: {start}\nrungs:\n  a: {{kind: call, size: 1, next: won}}\n"
        "  b: {{kind: call, size: 1, next: won}}\nends: {{won: {{result: won}}}}\n"
    )
    assert cl.Ladder.from_yaml(text.format(start="a")).start == ("a",)
    assert cl.Ladder.from_yaml(text.format(start="[a, b]")).start == ("a", "b")


def test_outcomes_branch_and_their_targets_are_the_distinct_destinations(
    guards: cl.Ladder,
) -> None:
    qualify = guards.rungs["qualify"]
    assert qualify.branches
    assert dict(qualify.outcomes or {}) == {
        "yes": "offer",
        "later": "nurture",
        "never": "disqualified",
    }
    assert qualify.targets == ("offer", "nurture", "disqualified")


# ---- equal ladders from YAML, dicts and models; round trips ------------------------------


def guards_from_models() -> cl.LadderDefinition:
    every_day = cl.FollowUps(max=2, every=timedelta(days=1))
    return cl.LadderDefinition(
        ladder="guards",
        version=2,
        title="Guard test ladder",
        start=["hello"],
        defaults=cl.Defaults(
            expires_after="3d",
            follow_ups=every_day,
            cooldown=timedelta(days=2),
            next_ask_within="P1D",
            max_asks=2,
            channels=["email", "phone"],
        ),
        rungs={
            "hello": cl.RungDefinition(kind=cl.Kind.conversation, size=1, next="call"),
            "call": cl.RungDefinition(
                kind="call", size=2, channels=["phone"], on_expire="nudge", next=["qualify"]
            ),
            "nudge": cl.RungDefinition(
                kind="download", size=1, expires_after=None, follow_ups=None, next="call"
            ),
            "qualify": cl.RungDefinition(
                kind="meeting",
                size=3,
                requires=["budget", "timeline"],
                outcomes={"yes": "offer", "later": "nurture", "never": "disqualified"},
                on_decline="lost",
            ),
            "nurture": cl.RungDefinition(kind="subscribe", size=1, max_asks=1, next="qualify"),
            "offer": cl.RungDefinition(kind="purchase", size=4, next="won", on_decline="nurture"),
        },
        ends={
            "won": cl.EndDefinition(result="won"),
            "lost": cl.EndDefinition(result="lost"),
            "disqualified": cl.EndDefinition(result="lost"),
        },
    )


def test_pydantic_models_give_a_ladder_equal_to_the_yaml_one(guards: cl.Ladder) -> None:
    assert cl.Ladder(guards_from_models()) == guards


def test_from_dict_gives_a_ladder_equal_to_the_yaml_one(guards: cl.Ladder) -> None:
    data = read_yaml(GUARDS_YAML).data  # plain data; PyYAML's safe_load would make `yes:` True
    assert cl.Ladder.from_dict(data) == guards


def test_ladders_that_behave_differently_are_not_equal(guards: cl.Ladder) -> None:
    other = cl.Ladder.from_yaml(GUARDS_YAML.replace("cooldown: 2d", "cooldown: 3d"))
    assert other != guards
    assert other.name == guards.name


def test_python_built_models_with_a_bad_reference_raise_definition_error() -> None:
    definition = cl.LadderDefinition(
        ladder="x",
        start="hello",
        rungs={
            "hello": cl.RungDefinition(kind="call", size=1, next="cal"),
            "call": cl.RungDefinition(kind="call", size=2, next="won", on_decline="nowhere"),
        },
        ends={"won": cl.EndDefinition(result="won")},
    )
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder(definition)
    messages = {p.path: p.message for p in exc.value.problems}
    assert messages.keys() == {"rungs.hello.next", "rungs.call.on_decline"}
    assert "did you mean 'call'?" in messages["rungs.hello.next"]


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_to_yaml_round_trips_to_an_equal_ladder(path: Any) -> None:
    ladder = cl.load(path)
    again = cl.Ladder.from_yaml(ladder.to_yaml())
    assert again == ladder
    assert again.to_dict() == ladder.to_dict()


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_to_dict_round_trips_to_an_equal_ladder_through_json(path: Any) -> None:
    ladder = cl.load(path)
    data = json.loads(json.dumps(ladder.to_dict()))
    assert cl.Ladder.from_dict(data) == ladder
    assert cl.Ladder(cl.LadderDefinition.model_validate(data)) == ladder


def test_to_yaml_keeps_an_explicit_null_that_removes_a_default(guards: cl.Ladder) -> None:
    again = cl.Ladder.from_yaml(guards.to_yaml())
    assert again.rungs["nudge"].expires_after is None
    assert again == guards


def test_a_compiled_ladder_is_immutable(guards: cl.Ladder) -> None:
    with pytest.raises(TypeError):
        guards.rungs["x"] = guards.rungs["hello"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        guards.rungs["hello"].size = 9  # type: ignore[misc]


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_example_compiles_with_its_rungs_and_ends(path: Any) -> None:
    ladder = cl.load(path)
    assert ladder.rungs
    assert ladder.ends
    for rung in ladder.rungs.values():
        for target in rung.targets:
            assert target in ladder.rungs or target in ladder.ends
