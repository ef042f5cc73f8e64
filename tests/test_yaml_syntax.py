"""YAML syntax errors read as a sentence with the fix, located at the line the author must
change (the parsers often point at the line after the mistake), in the same
``file:line:column: message`` form as every other problem, with either parser."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import commitladder as cl
from commitladder._yaml import SafeLoaderClass, read_yaml
from support import EXAMPLES_DIR

SEED = (EXAMPLES_DIR / "solopreneur.yaml").read_text(encoding="utf-8")

both_loaders = pytest.mark.parametrize(
    "loader",
    [
        pytest.param(
            getattr(yaml, "CSafeLoader", None),
            id="libyaml",
            marks=pytest.mark.skipif(
                not yaml.__with_libyaml__, reason="PyYAML was built without libyaml"
            ),
        ),
        pytest.param(yaml.SafeLoader, id="pure-python"),
    ],
)


@dataclass(frozen=True)
class Mistake:
    """The seed ladder with one mistake: ``before`` written as ``after``, once."""

    before: str
    after: str
    marks: str  # a piece of the line the author must change, as it reads after the mistake
    column: int  # where on that line the report points, from 1
    fix: str  # what the message must say

    def text(self) -> str:
        assert self.before in SEED
        return SEED.replace(self.before, self.after, 1)

    def line(self) -> int:
        lines = self.text().split("\n")
        (index,) = [i for i, line in enumerate(lines) if self.marks in line][:1]
        return index + 1


MISTAKES = {
    "key indented too far": Mistake(
        "    kind: call\n    size: 2\n",
        "    kind: call\n     size: 2\n",
        "     size: 2",
        6,
        "indent it 4 spaces, like `kind`",
    ),
    "key indented too little": Mistake(
        "    kind: call\n    size: 2\n",
        "    kind: call\n   size: 2\n",
        "   size: 2",
        4,
        "indent it 4 spaces",
    ),
    "first key indented too far": Mistake(
        "  intro_call:\n    kind: call\n",
        "  intro_call:\n      kind: call\n",
        "      kind: call",
        7,
        "indent line 34 4 spaces too",
    ),
    "a tab": Mistake(
        "    kind: call\n    size: 2\n", "    kind: call\n\tsize: 2\n", "\tsize", 1, "tab"
    ),
    "a missing colon": Mistake("    size: 2\n", "    size 2\n", "    size 2", 5, "write `size: 2`"),
    "a missing colon before another key": Mistake(
        "    kind: call\n    size: 2\n",
        "    kind call\n    size: 2\n",
        "    kind call",
        5,
        "write `kind: call`",
    ),
    "no space after the colon": Mistake(
        "    kind: call\n    size: 2\n",
        "    kind: call\n    size:2\n",
        "    size:2",
        9,
        "write `size: 2`",
    ),
    "an unclosed double quote": Mistake(
        "title: A 10-minute call",
        'title: "A 10-minute call',
        '"A 10-minute call',
        12,
        'close it with "',
    ),
    "an unclosed single quote": Mistake(
        "title: A 10-minute call",
        "title: 'A 10-minute call",
        "'A 10-minute call",
        12,
        "close it with '",
    ),
    "an unclosed bracket": Mistake(
        "    channels: [phone, video_call]\n    expires_after: 5d",
        "    channels: [phone, video_call\n    expires_after: 5d",
        "channels: [phone, video_call\n"[:-1],
        15,
        "end it with `]`",
    ),
    "an unclosed brace": Mistake(
        "follow_ups: {max: 2, every: 2d}",
        "follow_ups: {max: 2, every: 2d",
        "follow_ups: {max: 2, every: 2d ",
        15,
        "end it with `}`",
    ),
    "a stray bracket": Mistake(
        "    channels: [phone, video_call]\n    expires_after: 5d",
        "    channels: [phone, video_call]]\n    expires_after: 5d",
        "video_call]]",
        34,
        "closes nothing: remove it",
    ),
    "a list item among keys": Mistake(
        "    kind: call\n    size: 2\n",
        "    kind: call\n    size: 2\n    - phone\n",
        "    - phone",
        5,
        "write it as `key: value`",
    ),
    "a colon in a value": Mistake(
        "title: A 10-minute call",
        "title: Call: ten minutes",
        "title: Call: ten minutes",
        12,
        'put the whole value in quotes, as in "Call: ten minutes"',
    ),
    "a reserved first character": Mistake(
        "title: A 10-minute call", "title: @home", "title: @home", 12, 'quotes, as in "@home"'
    ),
    "a duplicate key": Mistake(
        "    kind: call\n    size: 2\n",
        "    kind: call\n    size: 2\n    size: 3\n",
        "    size: 3",
        5,
        "remove or merge them",
    ),
}


@both_loaders
@pytest.mark.parametrize("name", MISTAKES)
def test_a_mistake_is_reported_at_the_line_to_change_with_the_fix(
    name: str, loader: SafeLoaderClass
) -> None:
    mistake = MISTAKES[name]
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml(mistake.text(), source="solopreneur.yaml", loader=loader)
    (problem,) = exc.value.problems
    line = mistake.line()
    assert (problem.line, problem.column) == (line, mistake.column), problem
    assert mistake.fix in problem.message
    assert str(problem).startswith(f"solopreneur.yaml:{line}:{mistake.column}: ")
    assert str(problem).endswith(problem.message)
    assert "<block" not in problem.message  # no parser vocabulary
    assert "expected" not in problem.message


def test_the_parsers_point_elsewhere_for_some_mistakes_and_the_report_does_not() -> None:
    """Why the translation exists: for a missing colon PyYAML blames the next line."""
    mistake = MISTAKES["a missing colon before another key"]
    with pytest.raises(yaml.MarkedYAMLError) as raw:
        yaml.safe_load(mistake.text())
    assert raw.value.problem_mark is not None
    assert raw.value.problem_mark.line + 1 == mistake.line() + 1
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_yaml(mistake.text())
    assert exc.value.problems[0].line == mistake.line()


@both_loaders
def test_a_quote_never_closed_is_reported_where_it_opens(loader: SafeLoaderClass) -> None:
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml('ladder: x\ntitle: "open\nstart: a\n', source="q.yaml", loader=loader)
    (problem,) = exc.value.problems
    assert (problem.line, problem.column) == (2, 8)
    assert "end of the file" in problem.message


@both_loaders
def test_a_second_document_is_reported_where_it_starts(loader: SafeLoaderClass) -> None:
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml(SEED + "---\nladder: other\n", source="two.yaml", loader=loader)
    (problem,) = exc.value.problems
    assert problem.line == SEED.count("\n") + 1
    assert "one ladder" in problem.message


@both_loaders
def test_an_indented_top_level_key_says_to_unindent_it(loader: SafeLoaderClass) -> None:
    with pytest.raises(cl.DefinitionError) as exc:
        read_yaml("ladder: x\n  start: a\n", source="x.yaml", loader=loader)
    (problem,) = exc.value.problems
    assert (problem.line, problem.column) == (2, 3)
    assert "start it at the beginning of the line, like `ladder`" in problem.message


def test_load_reports_a_syntax_error_in_the_file_line_column_form(tmp_path: Path) -> None:
    path = tmp_path / "solopreneur.yaml"
    mistake = MISTAKES["a missing colon"]
    path.write_text(mistake.text(), encoding="utf-8")
    with pytest.raises(cl.DefinitionError) as exc:
        cl.load(path)
    assert str(exc.value.problems[0]).startswith(f"{path}:{mistake.line()}:{mistake.column}: ")


def test_a_mistake_it_cannot_explain_is_still_located() -> None:
    with pytest.raises(cl.DefinitionError) as exc:
        cl.Ladder.from_yaml("%YAML 1.1\n%YAML 1.1\n---\na: 1\n", source="d.yaml")
    (problem,) = exc.value.problems
    assert problem.line == 2
    assert problem.message.startswith("this is not valid YAML: ")
