"""Text from outside (a messenger's error message) is always storable, and never raises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commitladder._text import MAX_ERROR_TEXT, clean_text, safe_error_text

# every code point, lone surrogates and NUL included
any_text = st.text(st.characters(exclude_categories=()), max_size=50)


@given(any_text)
def test_clean_text_is_valid_utf8_without_nul(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")  # raises on a lone surrogate
    assert "\x00" not in cleaned


@given(st.text(max_size=50).filter(lambda t: "\x00" not in t))
def test_clean_text_leaves_storable_text_alone(text: str) -> None:
    assert clean_text(text) == text


def test_what_is_escaped_still_shows_what_was_there() -> None:
    assert clean_text("reply: \udcff\x00!") == "reply: \\udcff\\x00!"


def test_clean_text_is_bounded() -> None:
    assert len(clean_text("x" * (MAX_ERROR_TEXT + 10))) == MAX_ERROR_TEXT
    assert clean_text("abcdef", limit=3) == "abc"


@given(any_text)
def test_an_exception_with_any_message_gives_storable_text(message: str) -> None:
    text = safe_error_text(RuntimeError(message))
    text.encode("utf-8")
    assert "\x00" not in text
    assert text.startswith("RuntimeError")


class _BrokenStr(Exception):
    def __str__(self) -> str:
        raise ValueError("no text for you")


class _NotAStr(Exception):
    def __str__(self) -> str:
        return 42  # type: ignore[return-value]


@pytest.mark.parametrize("exc", [_BrokenStr(), _NotAStr()], ids=["str-raises", "str-not-a-str"])
def test_an_exception_whose_message_cannot_be_read_is_named(exc: Exception) -> None:
    assert safe_error_text(exc).startswith(f"{type(exc).__name__}: <its message could not be read")


def test_an_exception_without_a_message_is_its_name() -> None:
    assert safe_error_text(TimeoutError()) == "TimeoutError"
    assert safe_error_text(RuntimeError("smtp 421")) == "RuntimeError: smtp 421"
