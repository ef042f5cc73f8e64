"""Reading ladder YAML: safe, bounded, located; never runs code nor loses a duplicate key.
Every safety limit holds with libyaml's C parser and with PyYAML's pure-Python one alike."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import commitladder as cl
from commitladder._yaml import LOADERS, SafeLoaderClass, read_yaml
from support import EXAMPLE_FILES, GUARDS_YAML

needs_libyaml = pytest.mark.skipif(
    not yaml.__with_libyaml__, reason="PyYAML was built without libyaml, so its C loader is absent"
)
BOTH_LOADERS = [
    pytest.param(getattr(yaml, "CSafeLoader", None), id="libyaml", marks=needs_libyaml),
    pytest.param(yaml.SafeLoader, id="pure-python"),
]


@pytest.fixture(params=BOTH_LOADERS)
def loader(request: pytest.FixtureRequest) -> SafeLoaderClass:
    """Each test that takes it runs with both parsers."""
    chosen: SafeLoaderClass = request.param
    return chosen


MINIMAL = """\
ladder: tiny
start: hello
rungs:
  hello: {kind: conversation, size: 1, next: won}
ends:
  won: {result: won}
"""


def problems(exc: pytest.ExceptionInfo[cl.DefinitionError]) -> list[cl.Problem]:
    assert exc.value.problems, "a DefinitionError always lists its problems"
    return list(exc.value.problems)


def test_duplicate_key_is_reported_at_the_second_key() -> None:
    text = MINIMAL.replace("  hello:", "  hello: {kind: call, size: 1, next: won}\n  hello:")
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_yaml(text, source="dup.yaml")
    (problem,) = problems(exc)
    assert (problem.line, problem.column) == (5, 3)
    assert problem.path == "rungs.hello"
    assert "duplicate key 'hello'" in problem.message
    assert "first at line 4" in problem.message
    assert str(problem).startswith("dup.yaml:5:3: rungs.hello: ")


def test_every_duplicate_key_is_reported_not_only_the_first(loader: SafeLoaderClass) -> None:
    text = "a: 1\nb: 2\na: 3\nc:\n  d: 1\n  d: 2\n"
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml(text, loader=loader)
    assert [(p.path, p.line) for p in problems(exc)] == [("a", 3), ("c.d", 6)]


@pytest.mark.parametrize(
    "tagged",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/new:os.system ['touch {marker}']",
        "!!python/name:os.system",
        "!foo bar",
        "!!binary aGVsbG8=",
        "!!set {{a, b}}",
    ],
    ids=["python-apply", "python-new", "python-name", "unknown-local-tag", "binary", "set"],
)
def test_tags_beyond_plain_data_are_refused_and_nothing_runs(
    tagged: str, tmp_path: Path, loader: SafeLoaderClass
) -> None:
    marker = tmp_path / "pwned"
    text = MINIMAL.replace("title", "") + "title: " + tagged.format(marker=marker) + "\n"
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml(text, source="evil.yaml", loader=loader)
    (problem,) = problems(exc)
    assert "is not allowed" in problem.message
    assert problem.path == "title"
    assert problem.line == 7
    assert not marker.exists()


def test_merge_keys_are_refused(loader: SafeLoaderClass) -> None:
    text = "base: &base {kind: call, size: 1}\nrungs:\n  hello:\n    <<: *base\n    next: won\n"
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml(text, source="merge.yaml", loader=loader)
    (problem,) = problems(exc)
    assert "merge keys" in problem.message
    assert (problem.line, problem.column) == (4, 5)


def billion_laughs(levels: int = 9, fan_out: int = 10) -> str:
    """The classic alias bomb: fan_out ** levels leaves (10**9 by default)."""
    lines = ['lol0: &lol0 "lol"']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*lol{level - 1}"] * fan_out)
        lines.append(f"lol{level}: &lol{level} [{refs}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("levels", "fan_out"),
    [(9, 10), (30, 4), (200, 2)],
    ids=["billion-laughs-90-aliases", "4-way-30-deep", "2-way-200-deep"],
)
def test_alias_bomb_is_refused_with_an_error_about_aliases(
    levels: int, fan_out: int, loader: SafeLoaderClass
) -> None:
    """A bomb that would expand to billions of values is refused, and the error says why."""
    text = billion_laughs(levels, fan_out)
    started = time.perf_counter()
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml(text, source="bomb.yaml", loader=loader)
    assert "alias" in str(exc.value).lower()
    assert time.perf_counter() - started < 5  # refused at once, not after expanding


def test_nesting_built_through_aliases_is_bounded_too(loader: SafeLoaderClass) -> None:
    """Each alias nests the previous anchor 60 deep: no level is over 64, the whole is 1,200."""
    lines = ["a0: &a0 x"]
    for k in range(1, 20):
        lines.append(f"a{k}: &a{k} " + "[" * 60 + f"*a{k - 1}" + "]" * 60)
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml("\n".join(lines) + "\n", source="deep-aliases.yaml", loader=loader)
    assert "alias" in str(exc.value).lower() or "deep" in str(exc.value).lower()


def test_a_few_plain_aliases_are_read(loader: SafeLoaderClass) -> None:
    assert read_yaml("a: &x 1\nb: *x\n", loader=loader).data == {"a": 1, "b": 1}


@pytest.mark.parametrize("depth", [65, 500, 400_000], ids=["65", "500", "400000"])
def test_nesting_deeper_than_64_is_refused(depth: int, loader: SafeLoaderClass) -> None:
    """400,000 brackets (under 1 MiB) would overflow a recursive parser's stack: the event
    stream is checked first, so nothing recursive ever sees them."""
    text = "a: " + "[" * depth + "]" * depth + "\n"
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml(text, source="deep.yaml", loader=loader)
    (problem,) = problems(exc)
    assert "deeper than 64" in problem.message
    assert problem.line == 1


def test_nesting_of_64_is_read(loader: SafeLoaderClass) -> None:
    text = "[" * 64 + "]" * 64
    value = read_yaml(text, loader=loader).data
    for _ in range(63):
        value = value[0]
    assert value == []


def test_a_file_over_max_bytes_is_refused_before_parsing(loader: SafeLoaderClass) -> None:
    text = GUARDS_YAML
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml(text, source="big.yaml", max_bytes=100, loader=loader)
    (problem,) = problems(exc)
    assert "over the limit of 100" in problem.message
    assert problem.source == "big.yaml"
    assert cl.Ladder.from_yaml(text, max_bytes=len(text.encode())).name == "guards"


@pytest.mark.parametrize(
    "value",
    ["9" * 5000, "!!int abc", "!!float abc", "!!bool maybe", "!!int"],
    ids=["huge-int", "bad-int-tag", "bad-float-tag", "bad-bool-tag", "empty-int-tag"],
)
def test_scalars_that_cannot_be_built_are_definition_errors(
    value: str, loader: SafeLoaderClass
) -> None:
    """Untrusted YAML fails with a located DefinitionError, never a bare ValueError/KeyError."""
    text = MINIMAL.replace("ladder: tiny", f"ladder: tiny\nversion: {value}")
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml(text, source="scalar.yaml", loader=loader)
    assert any(p.line == 2 for p in exc.value.problems)


@pytest.mark.parametrize(
    "raw", [b"ladder: caf\xe9\n", b"\xff\xfeladder: x\n", b"ladder: \x80\n"], ids=repr
)
def test_bytes_that_are_not_utf8_are_refused(raw: bytes, loader: SafeLoaderClass) -> None:
    with pytest.raises(cl.DefinitionError, match="not UTF-8"):
        read_yaml(raw, source="latin1.yaml", loader=loader)


def test_text_with_a_lone_surrogate_is_refused_not_crashed_on() -> None:
    """Regression: from_yaml(str) with a lone surrogate raised a raw UnicodeEncodeError."""
    text = MINIMAL.replace("ladder: tiny", "ladder: tiny\ntitle: caf\udce9")
    with pytest.raises(cl.DefinitionError, match="lone surrogate") as exc:
        cl.Ladder.from_yaml(text, source="surrogate.yaml")
    assert problems(exc)[0].source == "surrogate.yaml"


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\ufffe"], ids=repr)
def test_a_control_character_is_refused_where_it_stands(char: str, loader: SafeLoaderClass) -> None:
    text = MINIMAL.replace("ladder: tiny", f"ladder: tiny\ntitle: Ca{char}fe")
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml(text, source="ctrl.yaml", loader=loader)
    (problem,) = problems(exc)
    assert (problem.line, problem.column) == (2, 10)
    assert f"U+{ord(char):04X}" in problem.message
    assert "remove it" in problem.message


def test_utf8_bytes_are_read() -> None:
    raw = MINIMAL.replace("ladder: tiny", "ladder: tiny\ntitle: Café").encode()
    assert cl.Ladder.from_yaml(raw).title == "Café"


@pytest.mark.parametrize("word", ["no", "yes", "on", "off", "true", "null", "y", "n", "1"])
def test_keys_stay_the_strings_written(word: str) -> None:
    assert read_yaml(f"{word}: 1\n").data == {word: 1}


def test_an_outcome_named_no_stays_the_string_no() -> None:
    text = (
        MINIMAL.replace("next: won}", "outcomes: {yes: won, no: lost, on: won}}")
        + "  lost: {result: lost}\n"
    )
    ladder = cl.Ladder.from_yaml(text)
    assert dict(ladder.rungs["hello"].outcomes or {}) == {"yes": "won", "no": "lost", "on": "won"}


def test_dates_are_kept_as_written_text() -> None:
    assert read_yaml("a: 2026-01-01\n").data == {"a": "2026-01-01"}


@pytest.mark.parametrize("text", ["", "# just a comment\n"], ids=["empty", "comment"])
def test_an_empty_file_is_refused(text: str) -> None:
    with pytest.raises(cl.DefinitionError, match="empty"):
        cl.Ladder.from_yaml(text)


@pytest.mark.parametrize(
    "text", ["---\n", "[a, b]\n", "just text\n"], ids=["null", "list", "scalar"]
)
def test_a_document_that_is_not_a_mapping_is_refused(text: str) -> None:
    with pytest.raises(cl.DefinitionError, match="a ladder is a mapping"):
        cl.Ladder.from_yaml(text)


def test_more_than_one_document_is_refused(loader: SafeLoaderClass) -> None:
    with pytest.raises(cl.DefinitionError, match="one ladder") as exc:
        read_yaml(MINIMAL + "---\n" + MINIMAL, loader=loader)
    assert problems(exc)[0].line == 7


def test_positions_of_values_and_keys_are_recorded() -> None:
    located = read_yaml(MINIMAL, source="tiny.yaml")
    assert located.where(("rungs", "hello"), key=True) == (4, 3)
    assert located.where(("rungs", "hello")) == (4, 10)
    assert located.where(("rungs", "hello", "no_such_field")) == (4, 10)


def test_the_c_loader_is_used_where_pyyaml_has_it() -> None:
    expected = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
    assert LOADERS[0] is expected
    assert LOADERS[-1] is yaml.SafeLoader


def located(text: str, loader: SafeLoaderClass) -> tuple[Any, ...]:
    result = read_yaml(text, source="x.yaml", loader=loader)
    return result.data, result.values, result.keys


@needs_libyaml
@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_both_parsers_read_the_same_data_at_the_same_places(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert located(text, yaml.CSafeLoader) == located(text, yaml.SafeLoader)
    assert located(GUARDS_YAML, yaml.CSafeLoader) == located(GUARDS_YAML, yaml.SafeLoader)


def one_line_rungs(size: int) -> str:
    """A ladder of one-line rungs, as many as fit in ``size`` bytes."""
    lines = ["ladder: big", "start: r0", "rungs:"]
    used, i = 40, 0
    while used < size - 200:
        lines.append(f"  r{i}: {{kind: call, size: 1, next: r{i + 1}}}")
        used += len(lines[-1]) + 1
        i += 1
    lines += [f"  r{i}: {{kind: call, size: 1, next: won}}", "ends: {won: {result: won}}"]
    return "\n".join(lines) + "\n"


def test_a_megabyte_of_rungs_stops_being_read_at_the_limit(loader: SafeLoaderClass) -> None:
    """Regression: 22,000 one-line rungs under 1 MiB took 15 s to compile; reading now stops
    at the 1,001st rung, and the problem stands at the `rungs:` key."""
    text = one_line_rungs(1 << 20)
    assert text.count("\n") > 20_000
    started = time.perf_counter()
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml(text, source="big.yaml", loader=loader)
    (problem,) = problems(exc)
    assert (problem.path, problem.line, problem.column) == ("rungs", 3, 1)
    assert problem.message == "more than 1,000 rungs; split the process into smaller ladders"
    assert time.perf_counter() - started < 5


def test_a_megabyte_long_base_60_number_is_refused_at_once(loader: SafeLoaderClass) -> None:
    """Regression: YAML 1.1 reads 1:1:1... as a base-60 int, in quadratic time (minutes)."""
    text = MINIMAL + "version: " + ":".join(["1"] * 400_000) + "\n"
    started = time.perf_counter()
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml(text, source="sixty.yaml", loader=loader)
    (problem,) = problems(exc)
    assert (problem.path, problem.line) == ("version", 7)
    assert "is a number 799,999 characters long" in problem.message
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a: &x 1\nb: &x 2\n", 2, "the anchor &x is defined twice"),
        ("a: *x\n", 1, "the alias *x names no anchor (&x) before it"),
        ("a: &x [1, *x]\n", 1, "the alias *x is used inside its own anchor &x"),
        ("? [a, b]\n: 1\n", 1, "complex keys are not supported"),
    ],
    ids=["duplicate-anchor", "undefined-alias", "recursive-alias", "complex-key"],
)
def test_anchors_and_aliases_that_make_no_sense_are_located(
    text: str, line: int, message: str, loader: SafeLoaderClass
) -> None:
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml(text, source="alias.yaml", loader=loader)
    (problem,) = problems(exc)
    assert problem.line == line
    assert message in problem.message


def test_values_reached_through_an_alias_are_located_at_the_anchor(
    loader: SafeLoaderClass,
) -> None:
    located = read_yaml("a: &x [1, {b: 2}]\nc: *x\n", loader=loader)
    assert located.data == {"a": [1, {"b": 2}], "c": [1, {"b": 2}]}
    assert located.where(("c", 1, "b")) == (1, 15)
    assert located.where(("c",), key=True) == (2, 1)


def test_the_value_after_a_refused_complex_key_is_not_taken_for_a_key(
    loader: SafeLoaderClass,
) -> None:
    text = "a: 1\n? [x, y]\n: {z: 2}\nb: 3\nb: 4\n"
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml(text, source="keys.yaml", loader=loader)
    assert [(p.path, p.line) for p in problems(exc)] == [("", 2), ("b", 5)]
