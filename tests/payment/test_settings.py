"""Payment settings: production never runs WeChat Pay with the development APIv3 key."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from app.config import Settings

PROD = {
    "APP_ENV": "prod",
    "jwt_secret": "x" * 48,
    "field_encryption_keys": Fernet.generate_key().decode(),
    "blind_index_key": "prod-blind-index-key",
    "wechat_secret": "prod-wechat-secret",
    "fake_wechat_enabled": False,
}


def test_prod_refuses_wechat_pay_with_the_dev_apiv3_key() -> None:
    with pytest.raises(ValidationError, match="WECHATPAY_APIV3_KEY"):
        Settings(**PROD, wechatpay_mchid="1900000109")


def test_prod_accepts_wechat_pay_with_its_own_apiv3_key() -> None:
    settings = Settings(**PROD, wechatpay_mchid="1900000109", wechatpay_apiv3_key="k" * 32)
    assert settings.wechatpay_mchid == "1900000109"
