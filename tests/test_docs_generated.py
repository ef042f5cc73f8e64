"""The command outputs the docs show are the commands' real, current output
(regenerate with `python docs/gen_images.py`); the pictures are valid images."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from support import image_size

# the outputs are made once, on one xdist worker (make test: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("docs_generated")

ROOT = Path(__file__).parent.parent
GENERATED = ROOT / "docs" / "generated"


def _generator() -> object:
    spec = importlib.util.spec_from_file_location("gen_images", ROOT / "docs" / "gen_images.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def current_outputs() -> dict[str, str]:
    """What the commands print now: run once (three subprocesses), compared three times."""
    outputs: dict[str, str] = _generator().text_outputs()  # type: ignore[attr-defined]
    return outputs


@pytest.mark.parametrize("name", ["check.txt", "check.json", "solopreneur.mmd"])
def test_a_shown_output_is_what_the_command_prints_now(
    name: str, current_outputs: dict[str, str]
) -> None:
    current = current_outputs[name]
    assert (GENERATED / name).read_text(encoding="utf-8") == current, (
        f"docs/generated/{name} is stale: run python docs/gen_images.py"
    )


@pytest.mark.parametrize("name", ["solopreneur.svg", "solopreneur-live.svg", "funnel.png"])
def test_a_shown_picture_is_a_valid_image_of_a_sensible_size(name: str) -> None:
    width, height = image_size((GENERATED / name).read_bytes())
    assert 300 <= width <= 3000
    assert 300 <= height <= 3000
