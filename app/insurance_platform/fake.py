"""A development stand-in for the insurance platform (never in prod), speaking its envelope.

Mounted under /_dev/insurance-platform when FAKE_INSURANCE_PLATFORM_ENABLED (point
INSURANCE_PLATFORM_URL at it). `POST /` takes an envelope and answers as the platform does:
9001 issues a sign-in number; every other transaction needs a number it issued, a fresh
`msgid` and a well-formed envelope, else infcode -1 with `err_msg`. It keeps its own persons
(1101 answers from them) and can be told, through `/_control/...` (dev only, like the fake's
whole surface), to refuse everything with a given `err_msg` or to answer late.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field, ValidationError

from app.insurance_platform.envelope import PlatformRequest, interface_time
from app.kit.clock import to_shanghai, utcnow

FAKE_PLATFORM_PATH = "/_dev/insurance-platform"
FAILED = -1


class FakePerson(BaseModel):
    """A person the fake knows: one insurance (310 or 390) in one area."""

    certno: str = Field(min_length=15, max_length=18)
    psn_name: str = Field(default="测试参保人", max_length=50)
    insutype: str = Field(pattern=r"^(310|390)$")
    insuplc_admdvs: str = Field(pattern=r"^\d{6}$")
    # Personal-account balance in yuan, as the platform reports it.
    balc: str = Field(default="0.00", pattern=r"^\d{1,14}\.\d{2}$")
    psn_insu_stas: str = "1"


class FakeBehaviour(BaseModel):
    """Refuse every transaction but sign-in with this `err_msg`; answer this many seconds late."""

    refuse_with: str | None = None
    delay_seconds: float = Field(default=0.0, ge=0, le=120)


@dataclass
class FakePlatformState:
    persons: dict[str, FakePerson] = field(default_factory=dict)
    sign_nos: set[str] = field(default_factory=set)
    msgids: set[str] = field(default_factory=set)
    received: list[dict[str, Any]] = field(default_factory=list)
    behaviour: FakeBehaviour = field(default_factory=FakeBehaviour)
    sequence: int = 0


def _answer(state: FakePlatformState, output: dict[str, Any] | None) -> dict[str, Any]:
    state.sequence += 1
    now = utcnow()
    return {
        "infcode": 0,
        # The platform's own id: area (6) + time (14) + serial (10).
        "inf_refmsgid": f"140300{to_shanghai(now):%Y%m%d%H%M%S}{state.sequence:010d}",
        "refmsg_time": f"{to_shanghai(now):%Y%m%d%H%M%S%f}"[:17],
        "respond_time": f"{to_shanghai(now):%Y%m%d%H%M%S%f}"[:17],
        "err_msg": None,
        "warn_msg": None,
        "output": output,
    }


def _refusal(state: FakePlatformState, err_msg: str) -> dict[str, Any]:
    return {**_answer(state, None), "infcode": FAILED, "err_msg": err_msg}


def _person_output(person: FakePerson) -> dict[str, Any]:
    return {
        "baseinfo": {
            "psn_no": f"14{person.certno[-10:]}",
            "psn_cert_type": "01",
            "certno": person.certno,
            "psn_name": person.psn_name,
            "gend": "1" if int(person.certno[-2]) % 2 else "2",
            "naty": "01",
            "brdy": f"{person.certno[6:10]}-{person.certno[10:12]}-{person.certno[12:14]}",
            "age": 0,
        },
        "insuinfo": [
            {
                "balc": person.balc,
                "insutype": person.insutype,
                "psn_type": "11" if person.insutype == "310" else "1501",
                "psn_insu_stas": person.psn_insu_stas,
                "psn_insu_date": "2020-01-01",
                "paus_insu_date": None,
                "cvlserv_flag": "0",
                "insuplc_admdvs": person.insuplc_admdvs,
                "emp_name": "",
            }
        ],
        "idetinfo": [],
    }


def _transaction(state: FakePlatformState, request: PlatformRequest) -> dict[str, Any]:
    if request.infno == "9001":
        sign_no = f"{to_shanghai(utcnow()):%Y%m%d}{secrets.token_hex(8)}"[:30]
        state.sign_nos.add(sign_no)
        return _answer(
            state,
            {"signinoutb": {"sign_time": interface_time(utcnow()), "sign_no": sign_no}},
        )
    if request.sign_no not in state.sign_nos:
        return _refusal(state, "签到编号无效，请重新签到")
    if state.behaviour.refuse_with:
        return _refusal(state, state.behaviour.refuse_with)
    if request.infno == "1101":
        data = request.input.get("data") or {}
        person = state.persons.get(str(data.get("certno") or data.get("mdtrt_cert_no") or ""))
        if person is None:
            return _refusal(state, "未查询到该人员的参保信息")
        return _answer(state, _person_output(person))
    return _refusal(state, f"交易编号[{request.infno}]不存在")


def create_fake_insurance_platform_app() -> FastAPI:
    """The fake platform as an ASGI app (mounted under FAKE_PLATFORM_PATH in dev)."""
    state = FakePlatformState()
    fake = FastAPI(title="Fake insurance platform (dev only)", openapi_url=None, docs_url=None)
    fake.state.platform = state

    @fake.post("/")
    async def call_service(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if state.behaviour.delay_seconds:
            await asyncio.sleep(state.behaviour.delay_seconds)
        try:
            envelope = PlatformRequest.model_validate_json(raw)
        except ValidationError as exc:
            return _refusal(state, f"入参校验失败：{exc.errors()[0]['loc']}")
        state.received.append(envelope.model_dump())
        if envelope.msgid in state.msgids:
            return _refusal(state, "报文ID重复")
        state.msgids.add(envelope.msgid)
        return _transaction(state, envelope)

    @fake.post("/_control/persons", status_code=204)
    async def add_person(body: FakePerson) -> None:
        state.persons[body.certno.upper()] = body

    @fake.put("/_control/behaviour", status_code=204)
    async def behave(body: FakeBehaviour) -> None:
        state.behaviour = body

    @fake.get("/_control/received")
    async def received() -> list[dict[str, Any]]:
        return state.received

    return fake
