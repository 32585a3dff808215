"""Masking of identifiers, field encryption with rotation, blind indexes, UTC timestamps."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.config import Environment, Settings
from app.db import create_engine
from app.kit.crypto import FieldCipher, blind_index
from app.kit.masking import mask_national_id, mask_openid, mask_phone
from app.kit.types import UTCDateTime


def test_phone_masked_as_people_expect() -> None:
    assert mask_phone("13812341234") == "138****1234"


def test_national_id_keeps_region_and_tail() -> None:
    assert mask_national_id("14030219800101123X") == "140302********123X"


@given(st.text(alphabet="0123456789", min_size=8, max_size=20))
def test_masked_phone_hides_the_middle(phone: str) -> None:
    masked = mask_phone(phone)
    assert len(masked) == len(phone)
    assert masked[3:-4] == "*" * (len(phone) - 7)


@given(st.text(alphabet="0123456789X", min_size=0, max_size=7))
def test_short_values_are_fully_masked(value: str) -> None:
    assert set(mask_phone(value)) <= {"*"}


@given(st.text(min_size=9, max_size=64))
def test_an_openid_keeps_only_its_ends(openid: str) -> None:
    masked = mask_openid(openid)
    assert masked == openid[:4] + "*" * (len(openid) - 8) + openid[-4:]


@given(st.text(max_size=8))
def test_a_short_openid_is_fully_masked(openid: str) -> None:
    assert mask_openid(openid) == "*" * len(openid)


def test_rotation_reencrypts_under_the_newest_key() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = FieldCipher([old]).encrypt("13812341234")
    rotated_cipher = FieldCipher([new, old])
    rotated = rotated_cipher.rotate(token)
    assert FieldCipher([new]).decrypt(rotated) == "13812341234"
    with pytest.raises(Exception):
        FieldCipher([new]).decrypt(token)


def _session_indexing_with(directory: Path, blind_index_key: str) -> AsyncSession:
    """A session of an engine made from settings with this key (it never connects)."""
    settings = Settings(
        APP_ENV=Environment.test,
        database_url=f"sqlite+aiosqlite:///{directory / 'unused.db'}",
        blind_index_key=blind_index_key,
    )
    return AsyncSession(create_engine(settings))


def test_blind_index_is_stable_and_case_insensitive(tmp_path: Path) -> None:
    session = _session_indexing_with(tmp_path, "a-blind-index-key")
    assert blind_index(session, "14030219800101123x") == blind_index(session, "14030219800101123X")
    assert blind_index(session, "140302198001011234") != blind_index(session, "140302198001011235")


def test_blind_index_uses_the_key_of_the_sessions_engine(tmp_path: Path) -> None:
    value = "140302198001011234"
    first, same, other = (
        _session_indexing_with(tmp_path, key) for key in ("key-one", "key-one", "key-two")
    )
    assert blind_index(first, value) == blind_index(same, value)
    assert blind_index(first, value) != blind_index(other, value)


def test_an_engine_not_made_by_create_engine_has_no_data_keys() -> None:
    session = AsyncSession(create_async_engine("sqlite+aiosqlite://"))
    with pytest.raises(LookupError):
        blind_index(session, "140302198001011234")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1), None)  # type: ignore[arg-type]
