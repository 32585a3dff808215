"""The envelope as the specification defines it, the audit trail of every message (encrypted,
append-only, msgid unique), and the three ways a call fails: refused, timed out, unreachable."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import String, select, type_coerce, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.insurance_platform import repository
from app.insurance_platform.client import (
    HttpInsurancePlatform,
    PlatformRefused,
    PlatformTimeout,
    PlatformUnreachable,
)
from app.insurance_platform.envelope import MSGID, PlatformAnswer, message_id
from app.kit.crypto import FieldCipher
from app.kit.key_rotation import rotate_encrypted_columns
from app.models import Base, PlatformMessage
from tests.fixtures import factories
from tests.insurance_platform.conftest import add_person, behave, received

EXAMPLES = Path(__file__).parent / "examples"
PERSON = {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "", "certno": "", "psn_name": ""}}


def _person_query(certno: str) -> dict:
    return {"data": {**PERSON["data"], "mdtrt_cert_no": certno, "certno": certno}}


def test_a_message_id_is_institution_code_beijing_time_and_a_four_digit_sequence() -> None:
    moment = datetime(2026, 12, 6, 16, 5, 9, tzinfo=UTC)  # 00:05:09 on the 7th in Beijing
    msgid = message_id("H14030000001", moment, 42)
    assert msgid == "H14030000001" + "20261207000509" + "0042"
    assert len(msgid) == 30 and MSGID.match(msgid)
    # The specification's own example has this shape.
    assert MSGID.match("H00000000001202001041235391234")
    with pytest.raises(ValueError):
        message_id("H1403", moment, 1)
    with pytest.raises(ValueError):
        message_id("H14030000001", moment, 10_000)


async def test_the_envelope_carries_every_common_field(
    platform, platform_http, platform_settings
) -> None:
    certno = factories.resident_id()
    await add_person(platform_http, certno, "390")
    result = await platform.call("1101", _person_query(certno), insured_area="140300")
    sign_in, query = await received(platform_http)
    assert sign_in["infno"] == "9001" and sign_in["sign_no"] == ""
    assert query["infno"] == "1101"
    assert query["msgid"] == result.msgid and MSGID.match(result.msgid)
    assert query["msgid"].startswith(platform_settings.insurance_platform_fixmedins_code)
    assert query["fixmedins_code"] == "H14030000001"
    assert query["fixmedins_name"] == platform_settings.insurance_platform_fixmedins_name
    assert (query["mdtrtarea_admvs"], query["insuplc_admdvs"]) == ("140300", "140300")
    assert (query["recer_sys_code"], query["infver"], query["opter_type"]) == ("YQMB", "V1.0", "1")
    assert query["opter"] == platform_settings.insurance_platform_opter
    assert datetime.strptime(query["inf_time"], "%Y-%m-%d %H:%M:%S")
    assert query["sign_no"] and query["input"]["data"]["certno"] == certno
    assert result.output["baseinfo"]["certno"] == certno


async def test_every_message_is_kept_encrypted_and_cannot_be_edited(
    platform, platform_http, db_session
) -> None:
    certno = factories.resident_id()
    await add_person(platform_http, certno, "390")
    result = await platform.call("1101", _person_query(certno), insured_area="140300")
    kept = await repository.messages_of(db_session, result.msgid)
    assert [(m.direction, m.infno, m.infcode) for m in kept] == [
        ("request", "1101", None),
        ("answer", "1101", 0),
    ]
    assert certno in kept[0].body and certno in kept[1].body
    assert json.loads(kept[1].body)["inf_refmsgid"] == kept[1].inf_refmsgid
    raw = await db_session.scalars(
        select(type_coerce(PlatformMessage.body, String)).where(
            PlatformMessage.msgid == result.msgid
        )
    )
    assert all(certno not in body for body in raw)
    # One message id, one request per attempt: a second one is refused.
    again = PlatformMessage(
        msgid=result.msgid, attempt=1, infno="1101", direction="request", at=kept[0].at, body="{}"
    )
    assert await repository.add_message(db_session, again) is False
    with pytest.raises((IntegrityError, DBAPIError)):
        async with db_session.begin_nested():
            await db_session.execute(
                update(PlatformMessage)
                .where(PlatformMessage.msgid == result.msgid)
                .values(infcode=-1)
            )


async def test_a_refusal_carries_the_platforms_err_msg(platform, platform_http, db_session) -> None:
    await behave(platform_http, refuse_with="参保人已暂停参保")
    with pytest.raises(PlatformRefused) as refused:
        await platform.call("1101", _person_query(factories.resident_id()), insured_area="140300")
    assert (refused.value.infcode, refused.value.err_msg) == (-1, "参保人已暂停参保")
    assert refused.value.status == 502 and refused.value.extra["err_msg"] == "参保人已暂停参保"
    msgid = (await received(platform_http))[-1]["msgid"]
    kept = await repository.messages_of(db_session, msgid)
    assert [(m.direction, m.infcode) for m in kept] == [("request", None), ("answer", -1)]


async def test_a_real_refusal_from_a_live_platform_is_read(
    platform_settings, sessionmaker, platform
) -> None:
    example = (EXAMPLES / "real_refusal_answer.json").read_bytes()
    sign_no = await platform.sign_no()  # signed in on the fake; the next answer is the example
    assert sign_no

    def answer(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["sign_no"] == sign_no
        return httpx.Response(200, content=example)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        live = HttpInsurancePlatform(http, platform_settings, sessionmaker)
        with pytest.raises(PlatformRefused) as refused:
            await live.call("3103", {"data": {}}, insured_area="350302")
    assert refused.value.infcode == -1
    assert refused.value.err_msg.startswith("就诊凭证编号不能为空")
    parsed = PlatformAnswer.model_validate_json(example)
    assert parsed.model_extra == {"appname": "ims-svc-ext", "mid": None}


async def test_no_answer_in_time_is_a_timeout_and_is_kept(
    platform, platform_http, db_session
) -> None:
    await platform.sign_no()
    await behave(platform_http, delay_seconds=5)
    with pytest.raises(PlatformTimeout) as timed_out:
        await platform.call("1101", _person_query(factories.resident_id()), insured_area="140300")
    assert timed_out.value.status == 504
    failures = await db_session.scalars(
        select(PlatformMessage).where(
            PlatformMessage.direction == "failure", PlatformMessage.infno == "1101"
        )
    )
    assert [json.loads(f.body) for f in failures] == [{"failure": "timeout"}]


@pytest.mark.parametrize(
    "reply",
    [
        lambda request: httpx.Response(502, text="Bad Gateway"),
        lambda request: httpx.Response(200, text="<html>维护中</html>"),
        lambda request: (_ for _ in ()).throw(httpx.ConnectError("refused", request=request)),
    ],
    ids=["http-error", "not-json", "no-connection"],
)
async def test_what_is_not_an_answer_is_unreachable(
    platform_settings, sessionmaker, db_session, reply
) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(reply)) as http:
        broken = HttpInsurancePlatform(http, platform_settings, sessionmaker)
        with pytest.raises(PlatformUnreachable):
            await broken.call("9001", {}, insured_area="")
    failure = await db_session.scalar(
        select(PlatformMessage).where(PlatformMessage.direction == "failure")
    )
    assert failure is not None and failure.infno == "9001"


async def test_a_field_key_rotation_reaches_the_kept_messages(
    platform, platform_http, db_session, monkeypatch, settings
) -> None:
    certno = factories.resident_id()
    await add_person(platform_http, certno, "390")
    result = await platform.call("1101", _person_query(certno), insured_area="140300")
    new_key = Fernet.generate_key().decode()
    in_use = [k.strip() for k in settings.field_encryption_keys.split(",") if k.strip()]
    both = FieldCipher([new_key, *in_use])
    monkeypatch.setattr("app.kit.key_rotation.field_cipher", lambda dialect: both)
    assert await rotate_encrypted_columns(db_session, Base.metadata) >= 1
    raw = await db_session.scalars(
        select(type_coerce(PlatformMessage.body, String)).where(
            PlatformMessage.msgid == result.msgid
        )
    )
    assert all(certno in FieldCipher([new_key]).decrypt(body) for body in raw)
