"""Fitting data to subscription-message field types (WeChat refuses a message whose value
breaks its type's rule, so every value must come out acceptable or be refused here)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.notify.fields import (
    CHARACTER_STRING_CHARS,
    NAME_CHINESE_CHARS,
    PHRASE_CHARS,
    THING_CHARS,
    UnfittableValue,
    field_type,
    fit,
    fitted_data,
)

chinese = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1)


@given(st.text(min_size=1).filter(str.strip))
def test_a_thing_is_at_most_20_characters(text: str) -> None:
    fitted = fit("thing1", text)
    assert 0 < len(fitted) <= THING_CHARS
    assert "\n" not in fitted


def test_a_long_thing_is_cut_with_an_ellipsis_and_a_short_one_kept() -> None:
    assert fit("thing2", "处方已通过药师审核，请选择取药方式或者送药上门服务") == (
        "处方已通过药师审核，请选择取药方式或者…"
    )
    assert fit("thing2", "处方已通过审核") == "处方已通过审核"


@given(chinese, st.text())
def test_a_phrase_is_at_most_5_chinese_characters(han: str, noise: str) -> None:
    fitted = fit("phrase3", noise + han)
    assert 0 < len(fitted) <= PHRASE_CHARS
    assert re.fullmatch(r"[\u3400-\u9fff\uf900-\ufaff]+", fitted)


def test_a_phrase_without_chinese_cannot_be_fitted() -> None:
    with pytest.raises(UnfittableValue):
        fit("phrase1", "approved")


@given(st.text().filter(lambda t: re.search(r"[\x21-\x7e]", t)))
def test_a_character_string_is_at_most_32_printable_ascii(text: str) -> None:
    fitted = fit("character_string1", text)
    assert 0 < len(fitted) <= CHARACTER_STRING_CHARS
    assert re.fullmatch(r"[\x21-\x7e]+", fitted)


@given(chinese)
def test_a_chinese_name_is_at_most_10_characters(name: str) -> None:
    assert len(fit("name1", name)) <= NAME_CHINESE_CHARS


def test_a_latin_name_may_have_20_characters() -> None:
    assert fit("name1", "Alexander Hamilton-Burr") == "Alexander Hamilton-B"


@given(st.datetimes(timezones=st.just(UTC), min_value=datetime(2000, 1, 1)))
def test_a_time_is_shown_in_shanghai(moment: datetime) -> None:
    shown = fit("time2", moment)
    assert shown == (moment + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")


def test_times_from_iso_text_with_any_offset_and_dates() -> None:
    assert fit("time1", "2026-12-07T09:30:00+09:00") == "2026-12-07 08:30"
    assert fit("date1", date(2026, 12, 7)) == "2026-12-07"
    assert fit("date1", datetime(2026, 12, 7, 16, 0, tzinfo=UTC)) == "2026-12-08 00:00"
    with pytest.raises(UnfittableValue):
        fit("time1", datetime(2026, 12, 7, 9, 30))  # no offset: which 09:30?
    with pytest.raises(UnfittableValue):
        fit("time1", "tomorrow")


@given(st.integers(min_value=0, max_value=10**12 - 1))
def test_an_amount_is_yuan_from_integer_fen(fen: int) -> None:
    assert fit("amount1", fen) == f"{fen // 100}.{fen % 100:02d}元"


def test_an_amount_refuses_floats_and_a_number_refuses_words() -> None:
    with pytest.raises(UnfittableValue):
        fit("amount1", 12.5)
    with pytest.raises(UnfittableValue):
        fit("number1", "twelve")
    assert fit("number1", 12) == "12" and fit("number1", "3.5") == "3.5"


def test_missing_values_and_unknown_types_are_refused() -> None:
    with pytest.raises(UnfittableValue, match="thing1"):
        fitted_data({"thing1": "summary"}, {})
    with pytest.raises(ValueError, match="unknown"):
        field_type("colour1")
    assert field_type("character_string12") == "character_string"


def test_the_request_data_names_each_key_with_its_value() -> None:
    data = fitted_data({"thing1": "what", "number2": "count"}, {"what": "复诊提醒", "count": 3})
    assert data == {"thing1": {"value": "复诊提醒"}, "number2": {"value": "3"}}
