"""YAML syntax errors as a ladder author needs them: what is wrong, on which line, and the fix.

PyYAML and libyaml describe a syntax error from the parser's side ("expected <block
end>, but found '<block mapping start>'"), often on the line after the mistake, and
each in its own words. This module reads the error and the text around it, finds the
line the author must change and says how, in one sentence. It never raises: what it
cannot explain it reports as the parser did, where the parser did.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from ._errors import Problem
from ._format import MAX_DEPTH

if TYPE_CHECKING:
    from ._yaml import SafeLoaderClass

__all__ = ["syntax_problem", "unreadable_problem"]

# the line breaks both parsers count (YAML 1.1): a mark's line is an index into this split
_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
# what YAML may hold: tab, line breaks and printable characters (YAML 1.1, section 5.1)
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_KEY = re.compile(
    r"^(?P<indent> *)(?:- +)?(?P<key>[^\s#:'\"{\[][^:#]*?|\"[^\"]*\"|'[^']*'):(?: |$)"
)


@dataclass(frozen=True)
class _Text:
    """The source split into lines as the parsers count them."""

    lines: list[str]

    def line(self, index: int) -> str:
        return self.lines[index] if 0 <= index < len(self.lines) else ""

    def indent(self, index: int) -> int:
        line = self.line(index)
        return len(line) - len(line.lstrip(" "))

    def blank(self, index: int) -> bool:
        stripped = self.line(index).strip()
        return not stripped or stripped.startswith("#")

    def above(self, index: int) -> int | None:
        """The nearest line above ``index`` that holds something (not blank, not a comment)."""
        index -= 1
        while index >= 0 and self.blank(index):
            index -= 1
        return index if index >= 0 else None

    def key(self, index: int) -> str | None:
        """The key a line starts with (``kind`` in ``  kind: call``), if it starts with one."""
        match = _KEY.match(self.line(index))
        return match.group("key").strip() if match else None

    def shown(self, index: int) -> str:
        text = self.line(index).strip()
        return f"`{text}`" if len(text) <= 50 else f"`{text[:47]}...`"

    def step(self) -> int:
        """How many spaces this file usually indents a nested block (2 when it cannot tell)."""
        steps: Counter[int] = Counter()
        previous = 0
        for i in range(len(self.lines)):
            if self.blank(i):
                continue
            if self.indent(i) > previous:
                steps[self.indent(i) - previous] += 1
            previous = self.indent(i)
        return steps.most_common(1)[0][0] if steps else 2


@dataclass(frozen=True)
class _Said:
    """A diagnosis: the 0-based line and column to change and the sentence to show."""

    line: int
    column: int
    message: str


def syntax_problem(
    exc: yaml.MarkedYAMLError, text: str, source: str | None, loader: SafeLoaderClass
) -> Problem:
    """The problem to report for a syntax error raised while parsing ``text``."""
    said = None
    try:
        said = _diagnose(exc, _Text(_BREAK.split(text)), text, loader)
    except Exception:  # an explanation must never hide the error it explains
        said = None
    if said is None:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        message = f"this is not valid YAML: {message}"
        if mark is None:
            return Problem("", message, source)
        return Problem("", message, source, mark.line + 1, mark.column + 1)
    return Problem("", said.message, source, said.line + 1, said.column + 1)


def unreadable_problem(exc: yaml.YAMLError, text: str, source: str | None) -> Problem:
    """The problem for an error without a location: a character YAML does not allow."""
    found = _NOT_PRINTABLE.search(text)
    if found is None:
        return Problem("", f"this is not valid YAML: {exc}", source)
    before = _BREAK.split(text[: found.start()])
    code = f"U+{ord(found.group()):04X}"
    message = f"the file holds the control character {code}, which YAML does not allow: remove it"
    return Problem("", message, source, len(before), len(before[-1]) + 1)


def _diagnose(
    exc: yaml.MarkedYAMLError, text: _Text, raw: str, loader: SafeLoaderClass
) -> _Said | None:
    context = exc.context or ""
    problem = exc.problem or ""
    at, near = exc.problem_mark, exc.context_mark
    if at is None:
        return None
    if "nesting depth" in context or "nesting depth" in problem:  # libyaml stops at 1,000
        return _Said(at.line, at.column, f"nesting is deeper than {MAX_DEPTH} levels; flatten it")
    if "tab character" in problem or "'\\t'" in problem:  # libyaml's words, PyYAML's
        return _tab(text, at.line, at.column)
    if "cannot start any token" in problem:
        return _reserved(text, at.line, at.column)
    if near is not None and "quoted scalar" in context:
        ends = None if "end of stream" in problem else at.line
        return _unclosed_quote(text, near.line, near.column, ends)
    if near is not None and ("flow sequence" in context or "flow mapping" in context):
        return _unclosed_flow(text, near.line, near.column, "[" if "sequence" in context else "{")
    if near is not None and "expected ':'" in problem:
        return _missing_colon(text, near.line)
    if problem.startswith("mapping values are not allowed"):
        return _colon_not_allowed(text, at.line, at.column)
    if near is not None and "while parsing a block" in context:
        quote = _swallowing_quote(raw, loader, at.line, at.column)
        if quote is not None:
            return _unclosed_quote(text, quote.line, quote.column, at.line)
        return _out_of_place(text, near.line, near.column, at.line, at.column)
    return None


def _tab(text: _Text, line: int, column: int) -> _Said:
    content = text.line(line)
    tab = content.find("\t")
    if tab == -1:
        tab = column
    if not content[:tab].strip(" "):
        return _Said(
            line,
            tab,
            f"line {line + 1} is indented with a tab; YAML indents with spaces only: "
            "replace the tab with spaces",
        )
    return _Said(
        line,
        tab,
        f"line {line + 1} has a tab inside {text.shown(line)}, which YAML cannot read there: "
        "replace it with a space, or put the value in quotes",
    )


def _reserved(text: _Text, line: int, column: int) -> _Said:
    char = text.line(line)[column : column + 1] or "?"
    value = text.line(line)[column:].rstrip()
    return _Said(
        line,
        column,
        f"a value cannot start with `{char}` in YAML (it is reserved): put the value in "
        f'quotes, as in "{value}"',
    )


def _unclosed_quote(text: _Text, line: int, column: int, ends: int | None) -> _Said:
    quote = text.line(line)[column : column + 1] or '"'
    if ends is not None and ends > line:
        read_on = f"YAML reads on to line {ends + 1} looking for the end"
    else:
        read_on = "YAML reads on to the end of the file looking for the end"
    return _Said(
        line,
        column,
        f"the quote {quote} opened on line {line + 1} is not closed on that line and {read_on}: "
        f"close it with {quote} at the end of the value (or remove it)",
    )


def _unclosed_flow(text: _Text, line: int, column: int, opening: str) -> _Said:
    closing = "]" if opening == "[" else "}"
    what = "list" if opening == "[" else "mapping"
    return _Said(
        line,
        column,
        f"the {what} opened with `{opening}` on line {line + 1} is never closed: "
        f"end it with `{closing}` ({text.shown(line)})",
    )


def _missing_colon(text: _Text, line: int) -> _Said:
    content = text.line(line)
    glued = re.search(r"^( *(?:- +)?[^\s:#]+):(?=\S)", content)
    if glued:
        key = glued.group(1).strip()
        return _Said(
            line,
            len(glued.group(1)),
            f"line {line + 1} needs a space after the colon: write `{key}: "
            f"{content[glued.end() :].strip()}`",
        )
    words = content.strip().split(None, 1)
    fix = f"`{words[0]}: {words[1]}`" if len(words) == 2 else f"`{words[0]}: ...`"
    return _Said(
        line,
        text.indent(line),
        f"line {line + 1} ({text.shown(line)}) has no colon after its key; write {fix}",
    )


def _colon_not_allowed(text: _Text, line: int, column: int) -> _Said:
    content = text.line(line)
    first = _KEY.match(content)
    if first is not None and first.end() <= column:
        value = first.end()
        while value < len(content) and content[value] == " ":
            value += 1
        return _Said(
            line,
            value,
            f"the value {content[value:].strip()!r} on line {line + 1} holds `: `, which YAML "
            f'reads as a key: put the whole value in quotes, as in "{content[value:].strip()}"',
        )
    previous = text.above(line)
    if previous is None:
        return _Said(line, column, _continued(line, column))
    key = text.key(line) or "this key"
    if text.indent(previous) == text.indent(line) and text.key(previous) is None:
        return _missing_colon(text, previous)
    if text.indent(line) > text.indent(previous) and text.key(previous) is not None:
        written = text.line(previous).split(":", 1)[1].strip()
        if written and written[0] not in "|>&*!#":
            like = text.key(previous)
            where = (
                f"indent it {text.indent(previous)} spaces, like `{like}`"
                if text.indent(previous)
                else f"start it at the beginning of the line, like `{like}`"
            )
            return _Said(
                line,
                text.indent(line),
                f"line {line + 1} is indented more than line {previous + 1}, so YAML reads "
                f"`{key}:` as more of the value of `{like}`: {where}",
            )
    return _Said(line, text.indent(line), _continued(line, column))


def _continued(line: int, column: int) -> str:
    return (
        f"YAML reads line {line + 1} as more of the text above it, where a `:` at column "
        f"{column + 1} is not allowed: if it starts a new key, indent it like the keys above; "
        "if it is text, put the whole value in quotes"
    )


def _out_of_place(text: _Text, open_line: int, open_column: int, line: int, column: int) -> _Said:
    """A line inside a block that belongs to none of the levels around it."""
    content = text.line(line)
    char = content[column : column + 1]
    if char in ("]", "}"):
        return _Said(
            line,
            column,
            f"the `{char}` on line {line + 1} closes nothing: remove it, or open the "
            f"{'list with `[`' if char == ']' else 'mapping with `{`'}",
        )
    if char == "-" and content[column + 1 : column + 2] in (" ", ""):
        return _Said(
            line,
            column,
            f"line {line + 1} starts a list item (`- `) among the keys of the mapping that "
            f"begins on line {open_line + 1}: write it as `key: value`, or put the list under "
            "a key of its own",
        )
    keys = open_column
    indent = text.indent(line)
    owner = _last_at(text, keys, open_line, line)
    first = _first_inside(text, owner, line)
    if first is not None and keys < indent < text.indent(first):
        inner = text.indent(first)
        alone = sum(1 for i in range(first, line) if not text.blank(i) and text.indent(i) == inner)
        if alone == 1 and indent - keys == text.step() != inner - keys:
            return _Said(
                first,
                inner,
                f"line {first + 1} is indented {inner} spaces, but line {line + 1}, next in the "
                f"same mapping, is indented {indent}: indent line {first + 1} {indent} spaces too",
            )
        return _Said(
            line,
            indent,
            f"line {line + 1} is indented {indent} spaces, between the {inner} of line "
            f"{first + 1} and the {keys} of line {owner + 1}: indent it {inner} spaces to go "
            f"with line {first + 1}, or {keys} to start a new entry beside line {owner + 1}",
        )
    return _Said(
        line,
        indent,
        f"line {line + 1} is indented {indent} spaces, which matches no key above it (the "
        f"mapping it is in, from line {open_line + 1}, has its keys at {keys}): "
        f"indent it {keys} spaces, or as deep as the keys it belongs with",
    )


def _last_at(text: _Text, indent: int, start: int, end: int) -> int:
    """The last line in ``start..end`` (exclusive) indented exactly ``indent``."""
    for i in range(end - 1, start - 1, -1):
        if not text.blank(i) and text.indent(i) == indent:
            return i
    return start


def _first_inside(text: _Text, owner: int, end: int) -> int | None:
    """The first line after ``owner`` that is nested under it, before ``end``."""
    for i in range(owner + 1, end):
        if not text.blank(i):
            return i if text.indent(i) > text.indent(owner) else None
    return None


@dataclass(frozen=True)
class _At:
    line: int
    column: int


def _swallowing_quote(raw: str, loader: SafeLoaderClass, line: int, column: int) -> _At | None:
    """The start of a quoted value that runs over several lines and ends just before the
    error: a quote left open, which swallowed lines up to the next quote in the file."""
    last: yaml.Token | None = None
    try:
        for token in yaml.scan(raw, Loader=loader):
            if (token.start_mark.line, token.start_mark.column) >= (line, column):
                break
            last = token
    except yaml.YAMLError:
        pass
    if (
        isinstance(last, yaml.ScalarToken)
        and last.style in ('"', "'")
        and last.end_mark.line > last.start_mark.line
    ):
        return _At(last.start_mark.line, last.start_mark.column)
    return None
