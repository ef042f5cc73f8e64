"""Ladder definitions: every problem at once and located; defaults resolved; YAML, dict and
pydantic models give equal ladders that round-trip."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest

import commitladder as cl
from commitladder._yaml import read_yaml
from support import EXAMPLE_FILES, GUARDS_YAML, T0

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


# ---- hostile values: every one is a located DefinitionError --------------------------------


def tiny(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ladder": "tiny",
        "start": "hello",
        "rungs": {"hello": {"kind": "call", "size": 1, "next": "won"}},
        "ends": {"won": {"result": "won"}},
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "duration", ["99999999999999999999d", "9999999999w", "999999999d", "P99999999999999W"]
)
@pytest.mark.parametrize("field", ["expires_after", "cooldown", "next_ask_within"])
def test_a_huge_duration_names_its_field_through_yaml_and_dict(duration: str, field: str) -> None:
    """Regression: these raised OverflowError from inside the loader, or (999999999d) loaded
    and then made `ask` overflow."""
    rung = f"{{kind: call, size: 1, next: won, {field}: {duration}}}"
    text = f"ladder: x\nstart: a\nrungs:\n  a: {rung}\nends: {{won: {{result: won}}}}\n"
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_yaml(text, source="x.yaml")
    (problem,) = exc.value.problems
    assert (problem.path, problem.line) == (f"rungs.a.{field}", 4)
    assert "at most 10 years (3650d)" in problem.message
    data = tiny(defaults={field: duration})
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_dict(data)
    assert [p.path for p in exc.value.problems] == [f"defaults.{field}"]


def test_a_huge_duration_inside_follow_ups_names_its_field() -> None:
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_dict(tiny(defaults={"follow_ups": {"max": 1, "every": "9999999999w"}}))
    assert [p.path for p in exc.value.problems] == ["defaults.follow_ups.every"]


def test_ten_years_loads_and_asks() -> None:
    ladder = cl.Ladder.from_dict(tiny(defaults={"expires_after": "3650d", "cooldown": "521w"}))
    e = ladder.enroll("acme", now=T0)
    ask = e.ask("hello", now=T0)
    assert ask.expires_at == T0 + timedelta(days=3650)


@pytest.mark.parametrize("version", [2**31, 2**63, 10**30], ids=["2**31", "2**63", "10**30"])
def test_a_version_too_big_to_store_is_refused_at_load(version: int) -> None:
    """Regression: version >= 2**63 loaded, then `enroll` raised struct.error."""
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_dict(tiny(version=version))
    (problem,) = exc.value.problems
    assert problem.path == "version"
    assert "2147483647" in problem.message
    with pytest.raises(cl.DefinitionError, match="2147483647"):
        cl.Ladder.from_yaml(f"version: {version}\n" + cl.Ladder.from_dict(tiny()).to_yaml())


def test_the_largest_version_loads_and_enrolls() -> None:
    ladder = cl.Ladder.from_dict(tiny(version=2**31 - 1))
    assert ladder.enroll("acme", now=T0).version == 2**31 - 1


@pytest.mark.parametrize(
    "count",
    [
        {"defaults": {"max_asks": 2**31}},
        {"defaults": {"follow_ups": {"max": 2**40, "every": "1d"}}},
        {"rules": {"max_size_step": 2**63}},
        {"rules": {"max_asks_without_commitment": 10**20}},
    ],
    ids=["max_asks", "follow_ups.max", "max_size_step", "max_asks_without_commitment"],
)
def test_every_count_is_bounded_like_the_version(count: dict[str, Any]) -> None:
    with pytest.raises(cl.DefinitionError, match="2147483647"):
        cl.Ladder.from_dict(tiny(**count))


@pytest.mark.parametrize("weight", [float("inf"), float("nan")], ids=["inf", "nan"])
def test_a_simulated_weight_must_be_a_finite_number(weight: float) -> None:
    simulation = {"defaults": {"outcomes": {"yes": weight}}}
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_dict(tiny(simulation=simulation))
    assert [p.path for p in exc.value.problems] == ["simulation.defaults.outcomes.yes"]


@pytest.mark.parametrize("data", [["x"], None, "ladder: x", 42, ("ladder", "x")], ids=repr)
def test_from_dict_with_something_else_than_a_mapping_is_a_definition_error(data: Any) -> None:
    """Regression: from_dict(['x']) raised ValueError and from_dict(None) TypeError."""
    with pytest.raises(cl.DefinitionError, match="a ladder is a mapping"):
        cl.Ladder.from_dict(data)


def test_from_dict_takes_any_mapping() -> None:
    from types import MappingProxyType

    assert cl.Ladder.from_dict(MappingProxyType(tiny())).name == "tiny"


def test_ladder_given_plain_data_says_which_constructor_to_use() -> None:
    with pytest.raises(TypeError, match=r"takes a LadderDefinition, not dict.*from_dict"):
        cl.Ladder(tiny())  # type: ignore[arg-type]


# ---- limits ---------------------------------------------------------------------------------


def rungs(count: int, **extra: Any) -> dict[str, Any]:
    chain = {
        f"r{i}": {"kind": "call", "size": 1, "next": f"r{i + 1}", **extra} for i in range(count)
    }
    chain[f"r{count - 1}"]["next"] = "won"
    return chain


LIMITS = [
    (
        "rungs",
        lambda: tiny(start="r0", rungs=rungs(1001)),
        "rungs",
        "more than 1,000 rungs; split the process",
    ),
    (
        "ends",
        lambda: tiny(ends={f"e{i}": {"result": "won"} for i in range(101)}),
        "ends",
        "more than 100 ends; merge",
    ),
    (
        "start",
        lambda: tiny(start=["hello"] * 101),
        "start",
        "more than 100 rungs to start from",
    ),
    (
        "next targets",
        lambda: tiny(rungs={"hello": {"kind": "call", "size": 1, "next": ["won"] * 101}}),
        "rungs.hello.next",
        "more than 100 targets",
    ),
    (
        "outcomes",
        lambda: tiny(
            rungs={
                "hello": {
                    "kind": "call",
                    "size": 1,
                    "outcomes": {f"o{i}": "won" for i in range(101)},
                }
            }
        ),
        "rungs.hello.outcomes",
        "more than 100 outcomes",
    ),
    (
        "requires",
        lambda: tiny(
            rungs={
                "hello": {
                    "kind": "call",
                    "size": 1,
                    "next": "won",
                    "requires": [f"f{i}" for i in range(101)],
                }
            }
        ),
        "rungs.hello.requires",
        "more than 100 facts",
    ),
    (
        "channels",
        lambda: tiny(defaults={"channels": [f"c{i}" for i in range(33)]}),
        "defaults.channels",
        "more than 32 channels",
    ),
    (
        "requires_before",
        lambda: tiny(rules={"requires_before": {"hello": ["hello"] * 101}}),
        "rules.requires_before.hello",
        "more than 100 rungs; name fewer",
    ),
]


@pytest.mark.parametrize(("what", "make", "path", "message"), LIMITS, ids=[x[0] for x in LIMITS])
def test_each_limit_is_one_clear_problem_through_dict_and_yaml(
    what: str, make: Any, path: str, message: str
) -> None:
    data = make()
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_dict(data)
    (problem,) = exc.value.problems
    assert (problem.path, problem.line) == (path, None)
    assert message in problem.message
    text = json.dumps(data)  # JSON is YAML: the same data as a file
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_yaml(text, source="big.yaml")
    (located,) = exc.value.problems
    assert (located.path, located.message, located.source) == (path, problem.message, "big.yaml")
    assert located.line == 1


def test_a_ladder_at_every_limit_loads() -> None:
    many = rungs(
        1000, channels=[f"c{i}" for i in range(32)], requires=[f"f{i}" for i in range(100)]
    )
    many["r0"]["next"] = ["r1", *(f"r{i}" for i in range(2, 101))]
    ladder = cl.Ladder.from_dict(
        tiny(
            start=[f"r{i}" for i in range(100)],
            rungs=many,
            ends={f"e{i}": {"result": "lost"} for i in range(99)} | {"won": {"result": "won"}},
        )
    )
    assert (len(ladder.rungs), len(ladder.ends)) == (1000, 100)


def test_a_hundred_thousand_rungs_are_refused_quickly() -> None:
    """Regression: from_dict had no limit at all; 100,000 rungs took minutes."""
    data = tiny(start="r0", rungs=rungs(100_000))
    started = time.perf_counter()
    with pytest.raises(cl.DefinitionError, match="more than 1,000 rungs"):
        cl.Ladder.from_dict(data)
    assert time.perf_counter() - started < 2


def test_a_flood_of_problems_is_cut_to_a_hundred_and_says_how_many_more() -> None:
    many = rungs(1000)
    for rung in many.values():
        rung["next"] = "nowhere"
        rung["kind"] = "lunch"
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_dict(tiny(start="r0", rungs=many))
    listed = exc.value.problems
    assert len(listed) == 101
    assert listed[-1].message.startswith("... and 1,900 more problems after this one")


def test_validation_is_linear_and_fast_at_the_rung_limit() -> None:
    """A thousand rungs, each with a typo, some close to a real name: well under a second."""
    many = rungs(1000)
    for i, rung in enumerate(many.values()):
        rung["next"] = f"r{i + 1}x" if i % 2 == 0 else f"zz{i}"
    data = tiny(start="r0", rungs=many)
    started = time.perf_counter()
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_dict(data)
    elapsed = time.perf_counter() - started
    assert exc.value.problems[0].message == "unknown target 'r1x'; did you mean 'r1'?"
    assert elapsed < 1.5, f"{elapsed:.2f} s"


@pytest.mark.parametrize("field", ["title", "description", "ask"])
def test_free_text_with_a_lone_surrogate_is_refused_as_from_yaml_refuses_it(field: str) -> None:
    """Text no file can hold would load from a dict and then break to_yaml()."""
    rung = {"kind": "call", "size": 1, "next": "won", field: "caf\udce9"}
    with pytest.raises(cl.DefinitionError, match="lone surrogate") as exc:
        cl.Ladder.from_dict(tiny(rungs={"hello": rung}))
    assert [p.path for p in exc.value.problems] == [f"rungs.hello.{field}"]
