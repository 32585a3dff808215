"""Logs never carry a full openid, mobile number or resident ID number, whoever forgot to mask."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from app.observability import configure_logging

OPENID = "oQz3k5Ab9XyLmN0pQrStUvWxYz12"  # 28 characters, as WeChat issues them
PHONE = "13912345678"
RESIDENT_ID = "14030219610418002X"


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The service's logging set up (app/observability.py), writing into a buffer; what it
    replaced is put back afterwards."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    configure_logging("INFO", json_logs=True)
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    handler.setStream(buffer)
    yield buffer
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)


def _lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line]


def _assert_no_identifier(text: str) -> None:
    for value in (OPENID, PHONE, RESIDENT_ID):
        assert value not in text


def test_values_under_sensitive_keys_are_masked(json_logs: io.StringIO) -> None:
    structlog.get_logger("test").info(
        "push sent",
        touser=OPENID,
        wechat_openid="short-openid-value-1234",
        patient_phone=PHONE,
        national_id=RESIDENT_ID,
        nested={"recipient": {"mobile": "+8613912345678"}, "ids": [RESIDENT_ID]},
        count=3,
    )
    [line] = _lines(json_logs)
    _assert_no_identifier(json.dumps(line, ensure_ascii=False))
    assert line["touser"] == OPENID[:4] + "*" * 20 + OPENID[-4:]
    assert line["wechat_openid"] == "shor" + "*" * 15 + "1234"
    assert line["patient_phone"] == "139****5678"
    assert line["national_id"] == "140302********002X"
    assert line["nested"] == {
        "recipient": {"mobile": "+86*******5678"},
        "ids": ["140302********002X"],
    }
    assert line["count"] == 3


def test_identifiers_in_free_text_are_masked_by_their_shape(
    json_logs: io.StringIO,
) -> None:
    structlog.get_logger("test").warning(
        f"sms to {PHONE} failed for {RESIDENT_ID}", detail=f"touser {OPENID} refused"
    )
    [line] = _lines(json_logs)
    _assert_no_identifier(json.dumps(line, ensure_ascii=False))
    assert line["event"] == "sms to 139****5678 failed for 140302********002X"
    assert line["detail"] == f"touser {OPENID[:4]}{'*' * 20}{OPENID[-4:]} refused"


def test_stdlib_records_and_exception_texts_are_masked(
    json_logs: io.StringIO,
) -> None:
    logger = logging.getLogger("some.library")
    try:
        raise ValueError(f"bad phone {PHONE}")
    except ValueError:
        logger.exception("lookup of %s failed", RESIDENT_ID)
    [line] = _lines(json_logs)
    _assert_no_identifier(json.dumps(line, ensure_ascii=False))
    assert "bad phone 139****5678" in str(line["exception"])


def test_numbers_that_are_not_identifiers_are_left_alone(
    json_logs: io.StringIO,
) -> None:
    structlog.get_logger("test").info(
        "order", order_no="YQ20261207000123456", amount_fen=1391234567, path="/api/v1/orders/42"
    )
    [line] = _lines(json_logs)
    assert line["order_no"] == "YQ20261207000123456"
    assert line["amount_fen"] == 1391234567
    assert line["path"] == "/api/v1/orders/42"
