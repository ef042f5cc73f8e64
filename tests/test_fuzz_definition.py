"""Fuzzing the loader with documents near a real ladder: whatever is changed, loading gives a
Ladder or a DefinitionError with located problems, never another exception, with either YAML
parser."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import commitladder as cl
from commitladder._validate import validate
from commitladder._yaml import read_yaml
from support import EXAMPLES_DIR

SEED_TEXT = (EXAMPLES_DIR / "solopreneur.yaml").read_text(encoding="utf-8")
SEED = read_yaml(SEED_TEXT).data
# as many examples as the active Hypothesis profile says; a fuzz case may build a whole ladder
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

words = st.sampled_from(
    ["3d", "0d", "P1M", "P3650DT1H", "9999999999w", "park", "won", "qualify", "email", "", "no"]
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=12),
    st.text(st.characters(categories=["Cs", "Cc", "Zs"]), max_size=4),  # surrogates, controls
    words,
    st.timedeltas(min_value=timedelta(days=-5), max_value=timedelta(days=40_000)),
    st.binary(max_size=4),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(words, st.text(max_size=6), st.integers()), inner, max_size=3),
    ),
    max_leaves=8,
)


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``data``."""
    found = [prefix]
    if isinstance(data, dict):
        for key, child in data.items():
            found += paths(child, (*prefix, key))
    elif isinstance(data, list):
        for i, child in enumerate(data):
            found += paths(child, (*prefix, i))
    return found


@st.composite
def near_seed(draw: st.DrawFn) -> Any:
    """The seed ladder's data with one to four values replaced, removed or added."""
    data = copy.deepcopy(SEED)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths(data)))
        if not path:
            if draw(st.integers(0, 9)) == 0:
                return draw(values)  # the whole document
            continue
        *head, last = path
        parent = data
        for part in head:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "replace":
            parent[last] = draw(values)
        elif action == "remove":
            del parent[last]
        elif isinstance(parent, dict):
            parent[draw(st.one_of(words, st.text(max_size=8)))] = draw(values)
        else:
            parent.append(draw(values))
    return data


def refusal(load: Any) -> cl.DefinitionError | None:
    """The DefinitionError ``load()`` raises, or None when it loads; anything else escapes."""
    try:
        load()
    except cl.DefinitionError as exc:
        return exc
    return None


def loads_or_refuses(load: Any) -> None:
    refused = refusal(load)
    if refused is not None:
        assert refused.problems
        assert all(isinstance(p.message, str) and p.message for p in refused.problems)
        assert str(refused).startswith("the ladder definition has")


@FUZZ
@given(near_seed())
def test_from_dict_loads_or_refuses_anything_near_a_ladder(data: Any) -> None:
    loads_or_refuses(lambda: cl.Ladder.from_dict(data))


@FUZZ
@given(near_seed())
def test_the_same_data_as_yaml_loads_or_refuses(data: Any) -> None:
    try:
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, UnicodeEncodeError):
        return  # a timedelta or a lone surrogate: nothing a YAML file can say
    loads_or_refuses(lambda: cl.Ladder.from_yaml(text, source="fuzz.yaml"))


@st.composite
def mangled_text(draw: st.DrawFn) -> str:
    """The seed file with a few characters or lines inserted, removed or swapped."""
    lines = SEED_TEXT.split("\n")
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(lines) - 1))
        line = lines[at]
        edit = draw(st.sampled_from(["char", "delete", "line", "swap", "indent"]))
        column = draw(st.integers(0, len(line)))
        if edit == "char":
            char = draw(st.sampled_from([*" \t:-#'\"[]{}&*!|>%@`,?\x00\u2028\\"]))
            lines[at] = line[:column] + char + line[column:]
        elif edit == "delete":
            lines[at] = line[:column] + line[column + 1 :]
        elif edit == "line":
            lines.insert(at, draw(st.sampled_from(lines)))
        elif edit == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        else:
            lines[at] = " " * draw(st.integers(1, 3)) + line
    return "\n".join(lines)


@pytest.mark.parametrize(
    "loader",
    [
        pytest.param(
            getattr(yaml, "CSafeLoader", None),
            id="libyaml",
            marks=pytest.mark.skipif(not yaml.__with_libyaml__, reason="no libyaml here"),
        ),
        pytest.param(yaml.SafeLoader, id="pure-python"),
    ],
)
@FUZZ
@given(text=mangled_text())
def test_a_mangled_ladder_file_loads_or_is_refused_with_located_problems(
    text: str, loader: Any
) -> None:
    def load() -> None:
        located = read_yaml(text, source="mangled.yaml", loader=loader)
        validate(located.data, located)

    refused = refusal(load)
    if refused is not None:
        assert refused.problems
        assert all(p.source == "mangled.yaml" for p in refused.problems)
        assert any(p.line is not None for p in refused.problems), refused
