"""Settings refuse development secrets outside development."""

from __future__ import annotations

import base64
import secrets

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from app.config import Settings
from tests.fixtures.prod_settings import PROD_SETTINGS


def _prod(**overrides: object) -> Settings:
    return Settings(**{**PROD_SETTINGS, **overrides})


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


@pytest.mark.parametrize(
    ("field", "weak"),
    [
        ("jwt_secret", "a" * 32),
        ("jwt_secret", "x" * 48),
        ("jwt_secret", "ab" * 24),
        ("jwt_secret", "abcdefghijklmnopqrstuvwxyzabcdefgh"),
        # Random values get fixed ids: xdist workers must collect the same test names.
        pytest.param("jwt_secret", secrets.token_hex(8), id="jwt_secret-16-random-hex"),
        ("blind_index_key", "k"),
        ("blind_index_key", "prod-blind-index-key"),
        ("blind_index_key", "0" * 64),
        # base64 of a typed phrase: the phrase is the key
        ("blind_index_key", base64.b64encode(b"our-very-own-blind-index-key-2026").decode()),
        ("field_encryption_keys", base64.urlsafe_b64encode(bytes(32)).decode()),
        (
            "field_encryption_keys",
            base64.urlsafe_b64encode(b"a-fernet-key-typed-by-a-person!!").decode(),
        ),
        ("field_encryption_keys", "not-a-fernet-key"),
        pytest.param(
            "field_encryption_keys",
            f"{Fernet.generate_key().decode()},{'A' * 43}=",
            id="field_encryption_keys-a-good-then-a-zero-key",
        ),
        ("metrics_token", "metrics"),
    ],
)
def test_prod_refuses_weak_keys(field: str, weak: str) -> None:
    with pytest.raises(ValidationError, match="weak keys"):
        _prod(**{field: weak})


@pytest.mark.parametrize(
    "strong",
    [
        secrets.token_urlsafe(32),
        secrets.token_hex(32),
        base64.b64encode(secrets.token_bytes(32)).decode(),
        "".join(
            secrets.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
            for _ in range(40)
        ),
    ],
    ids=["token_urlsafe", "token_hex", "base64-of-random-bytes", "random-alphabet-40"],
)
def test_prod_accepts_generated_keys(strong: str) -> None:
    settings = _prod(jwt_secret=strong, blind_index_key=strong, metrics_token=strong)
    assert settings.jwt_secret == strong


def test_prod_accepts_rotated_fernet_keys() -> None:
    keys = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    assert _prod(field_encryption_keys=keys).field_encryption_keys == keys


def test_prod_refuses_to_trust_every_proxy() -> None:
    with pytest.raises(ValidationError, match="FORWARDED_ALLOW_IPS"):
        _prod(forwarded_allow_ips="*")
    assert _prod(forwarded_allow_ips="10.0.0.0/8").forwarded_allow_ips == "10.0.0.0/8"


def test_api_docs_are_off_in_prod_unless_enabled() -> None:
    assert _prod().serves_api_docs is False
    assert _prod(api_docs_enabled=True).serves_api_docs is True
    assert Settings(APP_ENV="dev").serves_api_docs is True
    assert Settings(APP_ENV="dev", api_docs_enabled=False).serves_api_docs is False


def test_an_unreadable_sign_in_rate_is_refused() -> None:
    with pytest.raises(ValidationError, match="sign_in_rate_per_address"):
        Settings(sign_in_rate_per_address="lots")


_FAKE_ADDRESSES = ("WECHAT_API_BASE", "SMS_API_BASE", "PAYMENT_NOTIFY_BASE_URL")


def test_the_development_fakes_follow_the_served_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in _FAKE_ADDRESSES:
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None, served_base_url="http://127.0.0.1:8123/")
    assert settings.wechat_api_base == "http://127.0.0.1:8123/_dev/wechat"
    assert settings.sms_api_base == "http://127.0.0.1:8123/_dev/sms"
    assert settings.payment_notify_base_url == "http://127.0.0.1:8123"


def test_addresses_set_by_hand_win_over_the_served_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WECHAT_API_BASE", "https://api.weixin.qq.com")
    monkeypatch.setenv("PAYMENT_NOTIFY_BASE_URL", "https://care.example.cn")
    monkeypatch.delenv("SMS_API_BASE", raising=False)
    settings = Settings(_env_file=None, served_base_url="http://127.0.0.1:8123")
    assert settings.wechat_api_base == "https://api.weixin.qq.com"
    assert settings.payment_notify_base_url == "https://care.example.cn"
    assert settings.sms_api_base == "http://127.0.0.1:8123/_dev/sms"


def test_prod_addresses_do_not_follow_the_served_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in _FAKE_ADDRESSES:
        monkeypatch.delenv(name, raising=False)
    settings = _prod(served_base_url="http://127.0.0.1:8123")
    assert "8123" not in settings.wechat_api_base
    assert "8123" not in settings.payment_notify_base_url
