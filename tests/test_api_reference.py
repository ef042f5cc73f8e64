"""The generated Python reference covers every public name, each with a docstring.

A public module is one whose dotted path has no part starting with ``_`` and that
declares ``__all__``; its public names are those in ``__all__``. Every such module has a
``::: module`` directive on a page of ``docs/reference/python/``, and every public name
has a docstring and an entry in the inventory (``objects.inv``) that mkdocstrings writes
when it renders those pages. Modules are read with griffe, as mkdocstrings reads them: no
import, so the Django app needs no settings here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

griffe = pytest.importorskip("griffe")
pytest.importorskip("mkdocstrings_handlers.python")

# one worker builds the reference pages, once (make test: --dist loadgroup; the fixture is
# session-wide, so tests of other modules running in between do not tear it down)
pytestmark = pytest.mark.xdist_group("api_reference")

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "docs" / "reference" / "python"
_DIRECTIVE = re.compile(r"^::: *(?P<path>[\w.]+) *$", re.MULTILINE)


def _modules(module: griffe.Module) -> Iterator[griffe.Module]:
    yield module
    for member in module.members.values():
        if not member.is_alias and member.is_module and not member.name.startswith("_"):
            yield from _modules(member)  # type: ignore[arg-type]


PACKAGE = griffe.load("commitladder", search_paths=[ROOT / "src"], resolve_aliases=True)
PUBLIC = {module.path: module for module in _modules(PACKAGE) if module.exports is not None}
NAMES = [
    (module.path, str(name))
    for module in PUBLIC.values()
    for name in module.exports  # type: ignore[union-attr]
]


def test_the_public_modules_are_found() -> None:
    """The walk finds the front door and the public submodules (it cannot pass empty)."""
    assert {
        "commitladder",
        "commitladder.store",
        "commitladder.sql",
        "commitladder.testing",
        "commitladder.contrib.smtp",
        "commitladder.contrib.django",
    } <= set(PUBLIC)
    assert ("commitladder", "Tracker") in NAMES
    assert ("commitladder.sql", "SqlStore") in NAMES


@pytest.mark.parametrize(("module", "name"), NAMES, ids=[f"{m}.{n}" for m, n in NAMES])
def test_every_public_name_has_a_docstring(module: str, name: str) -> None:
    member = PUBLIC[module].members.get(name)
    assert member is not None, f"{module}.__all__ lists {name!r}, which the module does not define"
    target = member.final_target if member.is_alias else member
    docstring = target.docstring.value.strip() if target.docstring else ""
    assert docstring, (
        f"{module}.{name} ({target.relative_filepath}:{target.lineno}) has no docstring, so the "
        f"generated reference leaves it out: write one (for a constant or a type alias, a "
        f'string literal on the line after the assignment: X = 1 then """What X is.""")'
    )


def _directives() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for page in sorted(PAGES.glob("*.md")):
        for match in _DIRECTIVE.finditer(page.read_text(encoding="utf-8")):
            found[match["path"]] = page
    return found


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_every_public_module_has_a_reference_page(module: str) -> None:
    assert module in _directives(), (
        f"{module} declares __all__ but no page renders it: add the line '::: {module}' to a "
        f"page in docs/reference/python/ (and the page to the nav of mkdocs.yml if it is new)"
    )


def _inventory(site: Path) -> set[str]:
    """The object names in a Sphinx inventory (version 2: four header lines, then zlib)."""
    data = (site / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = data.index(b"\n", header_end) + 1
    body = zlib.decompress(data[header_end:]).decode("utf-8")
    return {line.split(" ", 1)[0] for line in body.splitlines() if line.strip()}


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The reference pages alone, built with the project's mkdocs.yml (INHERIT), so it
    renders with exactly the options of the real site, in a fraction of its time."""
    work = tmp_path_factory.mktemp("reference")
    docs = work / "docs"
    docs.mkdir()
    pages = sorted(PAGES.glob("*.md"))
    for page in pages:
        (docs / page.name).write_text(page.read_text(encoding="utf-8"), encoding="utf-8")
    config = work / "mkdocs.yml"
    nav = "".join(f"  - {page.name}\n" for page in pages)
    config.write_text(
        f"INHERIT: {ROOT / 'mkdocs.yml'}\n"
        f"docs_dir: {docs}\n"
        "strict: false\n"  # the pages link to the rest of the site, which is left out here
        f"nav:\n{nav}",
        encoding="utf-8",
    )
    site = work / "site"
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(config), "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert build.returncode == 0, build.stderr
    return _inventory(site)


@pytest.mark.parametrize(("module", "name"), NAMES, ids=[f"{m}.{n}" for m, n in NAMES])
def test_every_public_name_has_a_reference_entry(
    module: str, name: str, rendered: set[str]
) -> None:
    assert f"{module}.{name}" in rendered, (
        f"{module}.{name} is not in the generated reference: give it a docstring, and check "
        f"that a page in docs/reference/python/ has '::: {module}'"
    )
