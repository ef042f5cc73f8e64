"""Reading ladder YAML: safe, bounded, located; never runs code nor loses a duplicate key."""

from __future__ import annotations

from pathlib import Path

import pytest

import commitladder as cl
from commitladder._yaml import read_yaml
from support import GUARDS_YAML

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


def test_every_duplicate_key_is_reported_not_only_the_first() -> None:
    text = "a: 1\nb: 2\na: 3\nc:\n  d: 1\n  d: 2\n"
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml(text)
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
def test_tags_beyond_plain_data_are_refused_and_nothing_runs(tagged: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = MINIMAL.replace("title", "") + "title: " + tagged.format(marker=marker) + "\n"
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_yaml(text, source="evil.yaml")
    (problem,) = problems(exc)
    assert "is not allowed" in problem.message
    assert problem.path == "title"
    assert problem.line == 7
    assert not marker.exists()


def test_merge_keys_are_refused() -> None:
    text = "base: &base {kind: call, size: 1}\nrungs:\n  hello:\n    <<: *base\n    next: won\n"
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml(text, source="merge.yaml")
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
def test_alias_bomb_is_refused_with_an_error_about_aliases(levels: int, fan_out: int) -> None:
    """A bomb that would expand to billions of values is refused, and the error says why."""
    text = billion_laughs(levels, fan_out)
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_yaml(text, source="bomb.yaml")
    assert "alias" in str(exc.value).lower()


def test_nesting_built_through_aliases_is_bounded_too() -> None:
    """Each alias nests the previous anchor 60 deep: no level is over 64, the whole is 1,200."""
    lines = ["a0: &a0 x"]
    for k in range(1, 20):
        lines.append(f"a{k}: &a{k} " + "[" * 60 + f"*a{k - 1}" + "]" * 60)
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_yaml("\n".join(lines) + "\n", source="deep-aliases.yaml")
    assert "alias" in str(exc.value).lower() or "deep" in str(exc.value).lower()


def test_a_few_plain_aliases_are_read() -> None:
    assert read_yaml("a: &x 1\nb: *x\n").data == {"a": 1, "b": 1}


@pytest.mark.parametrize("depth", [65, 500], ids=["65", "500"])
def test_nesting_deeper_than_64_is_refused(depth: int) -> None:
    text = "a: " + "[" * depth + "]" * depth + "\n"
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml(text, source="deep.yaml")
    (problem,) = problems(exc)
    assert "deeper than 64" in problem.message
    assert problem.line == 1


def test_nesting_of_64_is_read() -> None:
    text = "[" * 64 + "]" * 64
    value = read_yaml(text).data
    for _ in range(63):
        value = value[0]
    assert value == []


def test_a_file_over_max_bytes_is_refused_before_parsing() -> None:
    text = GUARDS_YAML
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_yaml(text, source="big.yaml", max_bytes=100)
    (problem,) = problems(exc)
    assert "over the limit of 100" in problem.message
    assert problem.source == "big.yaml"
    assert cl.Ladder.from_yaml(text, max_bytes=len(text.encode())).name == "guards"


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("ladder: x\nstart: [a, b\nrungs: {}\n", 3, 6),
        ("ladder: x\n  start: a\n", 2, 8),
        ("ladder: x\nrungs:\n\t- a\n", 3, 1),
        ('ladder: "open\n', 2, 1),
    ],
    ids=["unclosed-flow-list", "bad-indent", "tab", "unclosed-quote"],
)
def test_syntax_errors_are_definition_errors_with_line_and_column(
    text: str, line: int, column: int
) -> None:
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_yaml(text, source="syntax.yaml")
    (problem,) = problems(exc)
    assert (problem.line, problem.column) == (line, column)
    assert str(problem).startswith(f"syntax.yaml:{line}:{column}: ")


@pytest.mark.parametrize(
    "value",
    ["9" * 5000, "!!int abc", "!!float abc", "!!bool maybe", "!!int"],
    ids=["huge-int", "bad-int-tag", "bad-float-tag", "bad-bool-tag", "empty-int-tag"],
)
def test_scalars_that_cannot_be_built_are_definition_errors(value: str) -> None:
    """Untrusted YAML fails with a located DefinitionError, never a bare ValueError/KeyError."""
    text = MINIMAL.replace("ladder: tiny", f"ladder: tiny\nversion: {value}")
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_yaml(text, source="scalar.yaml")
    assert any(p.line == 2 for p in exc.value.problems)


@pytest.mark.parametrize(
    "raw", [b"ladder: caf\xe9\n", b"\xff\xfeladder: x\n", b"ladder: \x80\n"], ids=repr
)
def test_bytes_that_are_not_utf8_are_refused(raw: bytes) -> None:
    with pytest.raises(cl.DefinitionError, match="not UTF-8"):
        cl.Ladder.from_yaml(raw, source="latin1.yaml")


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


def test_more_than_one_document_is_refused() -> None:
    with pytest.raises(cl.DefinitionError):
        cl.Ladder.from_yaml(MINIMAL + "---\n" + MINIMAL)


def test_positions_of_values_and_keys_are_recorded() -> None:
    located = read_yaml(MINIMAL, source="tiny.yaml")
    assert located.where(("rungs", "hello"), key=True) == (4, 3)
    assert located.where(("rungs", "hello")) == (4, 10)
    assert located.where(("rungs", "hello", "no_such_field")) == (4, 10)
