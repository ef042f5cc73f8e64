"""Every ```python block in README.md and docs/ runs, and prints what the page says it prints.

Rules of the docs, pinned here:

- The ```python blocks of one page run in order in one namespace, with the repository
  root as the working directory (so ``examples/ladders/...`` resolves).
- A ```text block with ``title="Output"`` right after a python block is that block's
  output: the test compares it with what the block printed.
- A block right after the HTML comment ``<!-- skip-test -->`` is not run. Use it only
  for code that cannot run here, and say why in the page's source.
- Every ```yaml block with a ``title="<path>"`` is the file at that path in the
  repository, word for word: the tutorial shows the files its snippets load.
- Blocks run under Hypothesis's default settings, whatever profile the run loaded: a
  failure story a page shows is the shrunk one a user gets.
- A ```console block right after ``<!-- run-test -->`` runs: each ``$ commitladder ...``
  line is a command, and the lines after it, up to the next ``$``, are what it prints
  (standard output and error together). A ``...`` in a printed line stands for any text
  (a timing, a byte count). The commands of a block run in order in one fresh directory
  that links to the repository's files, so what they write stays there.
  ``<!-- run-test: needs dot -->`` also needs Graphviz's ``dot``, and skips without it.

Under pytest-xdist the blocks of one page stay on one worker (``--dist loadgroup``), so
each page runs once, in order.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SKIP = "<!-- skip-test -->"
RUN = "<!-- run-test -->"
RUN_WITH_DOT = "<!-- run-test: needs dot -->"
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_TITLE = re.compile(r'title="(?P<title>[^"]*)"')


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # line of the opening fence, counted from 1
    end: int  # line of the closing fence
    lang: str
    title: str | None
    code: str
    skipped: bool
    marker: str = ""  # the HTML comment right before the block, if any
    output: str | None = None  # the ```text title="Output" block that follows, if any

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def _fenced(page: Path) -> Iterator[Block]:
    """Every fenced block of ``page`` (indented ones too, as in admonitions)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    previous = ""  # the last non-blank line before the current one
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        info = opening["info"].strip()
        lang = info.split(maxsplit=1)[0].lower() if info else ""
        title = _TITLE.search(info)
        body: list[str] = []
        start = i
        i += 1
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        yield Block(
            page=page,
            line=start + 1,
            end=i + 1,
            lang=lang,
            title=title["title"] if title else None,
            code="\n".join(body) + "\n",
            skipped=previous == SKIP,
            marker=previous if previous.startswith("<!--") else "",
        )
        previous = lines[start].strip()
        i += 1


def _python_blocks(page: Path) -> list[Block]:
    """The page's python blocks, each with the Output block that directly follows it."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks = list(_fenced(page))
    found = []
    for n, block in enumerate(blocks):
        if block.lang != "python":
            continue
        nxt = blocks[n + 1] if n + 1 < len(blocks) else None
        if (
            nxt is not None
            and nxt.lang == "text"
            and nxt.title == "Output"
            and not any(line.strip() for line in lines[block.end : nxt.line - 1])
        ):
            block = replace(block, output=nxt.code)
        found.append(block)
    return found


BLOCKS = {page: _python_blocks(page) for page in PAGES}
CASES = [block for blocks in BLOCKS.values() for block in blocks]


class _Page:
    """The shared namespace of one page and how far into the page it has run."""

    def __init__(self) -> None:
        self.namespace: dict[str, object] = {"__name__": "__docs__"}
        self.done = 0


_pages: dict[Path, _Page] = {}


def _run(block: Block, namespace: dict[str, object]) -> str:
    out = io.StringIO()
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(block.code, block.id, "exec"), namespace)
    finally:
        os.chdir(cwd)
    return out.getvalue()


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def test_the_docs_have_python_blocks_to_run() -> None:
    assert len(CASES) >= 20
    assert any(block.output is not None for block in CASES)


def test_blocks_are_found_with_their_output_and_skip_marker(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Intro\n\n"
        "```python\nprint(1)\n```\n\n"
        '```text title="Output"\n1\n```\n\n'
        "<!-- skip-test -->\n\n"
        "```python\nraise SystemExit\n```\n\n"
        "!!! note\n    ```python\n    x = 2\n    ```\n\n    Prose.\n\n"
        '```text title="Output"\nnot this block\'s output: prose comes between\n```\n',
        encoding="utf-8",
    )
    blocks = _python_blocks(page)
    assert [(b.line, b.code, b.skipped, b.output) for b in blocks] == [
        (3, "print(1)\n", False, "1\n"),
        (13, "raise SystemExit\n", True, None),
        (18, "x = 2\n", False, None),
    ]


def _on_one_worker(block: Block) -> object:
    group = str(block.page.relative_to(ROOT))
    return pytest.param(block, id=block.id, marks=pytest.mark.xdist_group(group))


@pytest.fixture
def user_settings(hypothesis_profile: str) -> Iterator[None]:
    """Hypothesis's own defaults while a block runs, then the run's profile again."""
    settings.load_profile("default")
    yield
    settings.load_profile(hypothesis_profile)


@pytest.mark.usefixtures("user_settings")
@pytest.mark.parametrize("block", [_on_one_worker(block) for block in CASES])
def test_python_block_runs(block: Block) -> None:
    if block.skipped:
        pytest.skip(f"marked {SKIP} in the page")
    blocks = BLOCKS[block.page]
    index = blocks.index(block)
    page = _pages.get(block.page)
    if page is None or page.done != index:
        # run on its own (-k, a rerun): replay the page's earlier blocks first
        page = _pages[block.page] = _Page()
        for earlier in blocks[:index]:
            if not earlier.skipped:
                _run(earlier, page.namespace)
        page.done = index
    printed = _run(block, page.namespace)
    page.done = index + 1
    if block.output is not None:
        assert _normalise(printed) == _normalise(block.output), (
            f"{block.id} printed something else than the Output block below it"
        )


YAML_FILES = [
    block
    for page in PAGES
    for block in _fenced(page)
    if block.lang == "yaml" and block.title is not None
]


@pytest.mark.parametrize("block", YAML_FILES, ids=[block.id for block in YAML_FILES])
def test_titled_yaml_block_is_the_file_it_names(block: Block) -> None:
    assert block.title is not None
    path = ROOT / block.title
    assert path.is_file(), f"{block.id} shows {block.title}, which does not exist"
    assert path.read_text(encoding="utf-8") == block.code


HOW_TO = sorted((ROOT / "docs" / "how-to").glob("*.md"))


@pytest.mark.parametrize("page", HOW_TO, ids=lambda page: page.name)
def test_how_to_snippets_keep_the_system_clock_outside_tests(page: Path) -> None:
    """Readers copy how-to code into production: a steppable clock there would freeze time
    (every ask stamped with the same date). It may appear only in a test function."""
    for block in BLOCKS[page]:
        if "SteppableClock(" in block.code:
            assert re.search(r"^def test_\w*\(", block.code, re.MULTILINE), (
                f"{block.id} makes a SteppableClock outside a test function: leave the clock "
                f"out (the system clock) or show it inside a `def test_...()`"
            )


# ---- console blocks that run ----------------------------------------------------------------

CONSOLE = [
    block
    for page in PAGES
    for block in _fenced(page)
    if block.lang == "console" and block.marker in (RUN, RUN_WITH_DOT)
]


def _commands(block: Block) -> list[tuple[str, list[str]]]:
    """Each ``$`` line of the block with the lines printed after it."""
    runs: list[tuple[str, list[str]]] = []
    for line in block.code.splitlines():
        if line.startswith("$ "):
            runs.append((line[2:], []))
        elif runs:
            runs[-1][1].append(line)
        elif line.strip():
            raise AssertionError(f"{block.id}: output before the first $ command: {line!r}")
    return runs


def _matches(expected: str, printed: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, printed) is not None


def test_console_blocks_are_read_as_commands_and_outputs(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- run-test -->\n\n```console\n$ commitladder a\none\n\n$ commitladder b\n```\n\n"
        "```console\n$ pip install x\n```\n",
        encoding="utf-8",
    )
    blocks = [b for b in _fenced(page) if b.lang == "console"]
    assert [b.marker for b in blocks] == [RUN, ""]
    assert _commands(blocks[0]) == [("commitladder a", ["one", ""]), ("commitladder b", [])]
    assert _matches("wrote x.svg (svg, ... bytes)", "wrote x.svg (svg, 11,185 bytes)")
    assert not _matches("wrote x.svg", "wrote y.svg")


def test_the_tutorial_runs_every_command_it_shows() -> None:
    """Every ``$ commitladder`` line of the tutorial is in a block that runs."""
    page = ROOT / "docs" / "tutorial" / "first-ladder.md"
    shown = [b for b in _fenced(page) if b.lang == "console" and "$ commitladder" in b.code]
    assert shown, "the tutorial shows no command"
    assert [b.id for b in shown if b.marker not in (RUN, RUN_WITH_DOT)] == []


def _workdir(tmp_path: Path) -> Path:
    """A fresh directory that sees the repository's files (by links) but not its output."""
    for entry in ROOT.iterdir():
        if not entry.name.startswith("."):
            (tmp_path / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return tmp_path


@pytest.mark.parametrize("block", [_on_one_worker(block) for block in CONSOLE])
def test_console_block_prints_what_the_page_shows(block: Block, tmp_path: Path) -> None:
    if (
        block.marker == RUN_WITH_DOT
        and shutil.which("dot") is None
        and not os.environ.get("COMMITLADDER_TEST_REQUIRE_DOT")
    ):
        pytest.skip(
            "Graphviz's `dot` is not installed, so the drawing commands are not run "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)"
        )
    work = _workdir(tmp_path)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "80", "NO_COLOR": "1"}
    for command, expected in _commands(block):
        argv = shlex.split(command)
        assert argv[0] == "commitladder", f"{block.id}: only commitladder commands run: {command}"
        run = subprocess.run(
            [sys.executable, "-m", "commitladder", *argv[1:]],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )
        printed = _normalise(run.stdout)
        assert _matches(_normalise("\n".join(expected)), printed), (
            f"{block.id}: `{command}` printed something else than the page shows:\n{printed}"
        )
