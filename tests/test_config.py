"""Settings refuse development secrets outside development."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from app.config import Settings


def _prod(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "APP_ENV": "prod",
        "jwt_secret": "x" * 48,
        "field_encryption_keys": Fernet.generate_key().decode(),
        "blind_index_key": "prod-blind-index-key",
        "wechat_secret": "prod-wechat-secret",
        "fake_wechat_enabled": False,
    }
    values.update(overrides)
    return Settings(**values)


def test_prod_with_real_secrets_starts() -> None:
    assert _prod().env == "prod"


@pytest.mark.parametrize(
    "field", ["jwt_secret", "field_encryption_keys", "blind_index_key", "wechat_secret"]
)
def test_prod_refuses_each_development_secret(field: str) -> None:
    with pytest.raises(ValidationError):
        _prod(**{field: Settings.model_fields[field].default})


def test_prod_refuses_the_fake_wechat() -> None:
    with pytest.raises(ValidationError):
        _prod(fake_wechat_enabled=True)


def test_prod_refuses_a_moved_clock() -> None:
    with pytest.raises(ValidationError, match="CLOCK_OFFSET_SECONDS"):
        _prod(clock_offset_seconds=86_400)


def test_prod_refuses_a_short_jwt_secret() -> None:
    with pytest.raises(ValidationError):
        _prod(jwt_secret="short")
