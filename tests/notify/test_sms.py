"""Tencent Cloud SMS: TC3-HMAC-SHA256 signing against the vendor's worked example, and the
SendSms request as the fake (which checks the signature) receives it."""

from __future__ import annotations

import httpx
import pytest

from app.config import Settings
from app.notify.fakes import create_fake_sms_app
from app.notify.sms import SmsError, TencentSmsClient, e164, tc3_authorization

# Tencent Cloud API 3.0 "Signature v3" documentation, worked example (CVM DescribeInstances).
DOC_SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
DOC_SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
DOC_PAYLOAD = (
    rb'{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}'
)
DOC_SIGNATURE = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"


def test_the_signature_matches_tencent_clouds_worked_example() -> None:
    authorization = tc3_authorization(
        DOC_SECRET_ID, DOC_SECRET_KEY, "cvm", "cvm.tencentcloudapi.com", 1551113065, DOC_PAYLOAD
    )
    assert authorization == (
        f"TC3-HMAC-SHA256 Credential={DOC_SECRET_ID}/2019-02-25/cvm/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={DOC_SIGNATURE}"
    )


def test_the_credential_date_is_the_utc_day() -> None:
    # 1551113065 is 2019-02-26 00:44 in UTC+8 but 2019-02-25 in UTC (the documented trap).
    assert "/2019-02-25/" in tc3_authorization("id", "key", "sms", "h", 1551113065, b"")


def test_mainland_numbers_get_the_country_code() -> None:
    assert e164("13934561234") == "+8613934561234"
    assert e164("+85291234567") == "+85291234567"


def _client(settings: Settings, secret_key: str) -> TencentSmsClient:
    fake = create_fake_sms_app(
        settings.sms_secret_id, settings.sms_secret_key, settings.sms_sdk_app_id
    )
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake))
    return TencentSmsClient(
        http,
        "http://sms.fake.test",
        settings.sms_secret_id,
        secret_key,
        settings.sms_sdk_app_id,
        settings.sms_sign_name,
        settings.sms_region,
    )


async def test_a_signed_sendsms_is_accepted(settings: Settings) -> None:
    client = _client(settings, settings.sms_secret_key)
    await client.send("13934561234", "100001", ["A123", "联系不上收件人"], "key-1")


async def test_a_wrong_key_is_refused_for_good(settings: Settings) -> None:
    client = _client(settings, "not-the-key")
    with pytest.raises(SmsError) as refused:
        await client.send("13934561234", "100001", [], "key-1")
    assert refused.value.code == "AuthFailure.SignatureFailure"
    assert not refused.value.retryable


def test_internal_errors_and_rate_limits_are_retryable() -> None:
    assert SmsError("InternalError.Timeout").retryable
    assert SmsError("RequestLimitExceeded").retryable
    assert not SmsError("LimitExceeded.PhoneNumberDailyLimit").retryable
