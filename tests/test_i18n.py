"""Language negotiation: Simplified Chinese unless the client prefers English."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.i18n import MESSAGES, negotiate


def test_default_is_chinese() -> None:
    assert negotiate(None) == "zh"
    assert negotiate("") == "zh"
    assert negotiate("fr-FR") == "zh"


def test_english_when_preferred() -> None:
    assert negotiate("en-US,en;q=0.9") == "en"
    assert negotiate("zh-CN;q=0.5, en;q=0.8") == "en"


def test_chinese_when_preferred_over_english() -> None:
    assert negotiate("zh-CN,zh;q=0.9,en;q=0.8") == "zh"


@given(st.text(max_size=200))
def test_any_header_negotiates_without_error(header: str) -> None:
    assert negotiate(header) in ("zh", "en")


def test_every_message_has_both_languages() -> None:
    for code, texts in MESSAGES.items():
        assert set(texts) == {"zh", "en"}, code
        assert all(texts.values()), code
