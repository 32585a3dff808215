"""Payment settings: production never runs WeChat Pay with the development APIv3 key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import Settings
from tests.fixtures.prod_settings import PROD_SETTINGS as PROD


def test_prod_refuses_wechat_pay_with_the_dev_apiv3_key() -> None:
    with pytest.raises(ValidationError, match="WECHATPAY_APIV3_KEY"):
        Settings(**PROD, wechatpay_mchid="1900000109")


def test_prod_accepts_wechat_pay_with_its_own_apiv3_key() -> None:
    settings = Settings(**PROD, wechatpay_mchid="1900000109", wechatpay_apiv3_key="k" * 32)
    assert settings.wechatpay_mchid == "1900000109"
