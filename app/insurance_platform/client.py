"""A client of the platform's interface for designated institutions: one JSON envelope POSTed
per message, every envelope and answer kept (encrypted) before the caller sees the result, and
the sign-in number (9001) shared by all processes through the database.

Failures reach callers as problem+json: a refusal (infcode < 0) is 502
`insurance_platform_refused` carrying the platform's `err_msg`; no answer within
INSURANCE_PLATFORM_TIMEOUT_SECONDS is 504 `insurance_platform_timeout`; anything that is not an
answer is 502 `insurance_platform_unreachable`. The audit rows are written in their own short
transactions, so they outlive a caller whose transaction rolls back: a message that may have
reached the platform is never forgotten.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from hashlib import sha256
from typing import Any, Literal, Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import app.insurance_platform.messages  # noqa: F401 - registers the error texts
from app.config import Settings
from app.errors import AppError, BadGateway
from app.insurance_platform import repository
from app.insurance_platform.envelope import (
    SEQUENCE_SPACE,
    SUCCESS,
    PlatformAnswer,
    PlatformRequest,
    interface_time,
    message_id,
)
from app.kit.clock import city_date, utcnow
from app.models import PlatformMessage, PlatformSignIn

SIGN_IN = "9001"
DOWNLOAD = "9102"
# Tries at a free message id when another process took the same second and sequence.
MSGID_TRIES = 8


class PlatformRefused(BadGateway):
    """The platform answered with a negative `infcode`; `err_msg` says why."""

    code = "insurance_platform_refused"

    def __init__(self, infcode: int, err_msg: str | None) -> None:
        self.infcode = infcode
        self.err_msg = err_msg or ""
        super().__init__(extra={"infcode": infcode, "err_msg": self.err_msg}, err_msg=self.err_msg)


class PlatformTimeout(AppError):
    """No answer in time: the message may or may not have been processed."""

    status = 504
    code = "insurance_platform_timeout"


class PlatformUnreachable(BadGateway):
    """No connection, or what came back was not an answer."""

    code = "insurance_platform_unreachable"


@dataclass(frozen=True)
class PlatformResult:
    """A successful answer's `output`, with the message id it answered."""

    msgid: str
    output: dict[str, Any]


class InsurancePlatform(Protocol):
    """Sends one transaction and returns its output (or raises one of the errors above)."""

    async def call(
        self,
        infno: str,
        data: dict[str, Any],
        *,
        insured_area: str = "",
        subject: str | None = None,
    ) -> PlatformResult:
        """Transaction `infno` with `data` as its `input`, for a person insured in
        `insured_area` (empty while unknown); `subject` is kept with the messages to find
        them again (an order's settlement, the message a void undoes)."""
        ...

    async def download(self, data: dict[str, Any], *, subject: str | None = None) -> bytes:
        """9102: a file the platform prepared, as bytes (or one of the errors above)."""
        ...


class HttpInsurancePlatform(InsurancePlatform):
    """The platform over HTTP (the app's shared httpx client), audited in the database."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        if not settings.insurance_platform_url:
            raise ValueError("INSURANCE_PLATFORM_URL is not set")
        self._http = http
        self._url = settings.insurance_platform_url
        self._settings = settings
        self._sessions = sessionmaker
        # Per-process sequence from a random start: two processes sending in the same second
        # rarely collide, and the unique key settles it when they do.
        self._sequence = itertools.count(secrets.randbelow(SEQUENCE_SPACE))

    async def call(
        self,
        infno: str,
        data: dict[str, Any],
        *,
        insured_area: str = "",
        subject: str | None = None,
    ) -> PlatformResult:
        sign_no = await self.sign_no()
        return await self._exchange(infno, data, insured_area, sign_no, subject)

    async def sign_no(self) -> str:
        """The sign-in number in force: today's (Asia/Shanghai) unless older than
        INSURANCE_PLATFORM_SIGN_IN_MAX_AGE_HOURS; otherwise a new 9001 sign-in, kept for
        every process (when two sign in at once, the first one kept wins)."""
        settings = self._settings
        now = utcnow()
        day = city_date(now)
        code, opter = settings.insurance_platform_fixmedins_code, settings.insurance_platform_opter
        async with self._sessions() as session:
            current = await repository.latest_sign_in(session, code, opter, day)
        max_age = timedelta(hours=settings.insurance_platform_sign_in_max_age_hours)
        if current is not None and now - current.signed_at < max_age:
            return current.sign_no
        result = await self._exchange(
            SIGN_IN,
            {
                "signIn": {
                    "opter_no": opter,
                    "mac": settings.insurance_platform_mac,
                    "ip": settings.insurance_platform_ip,
                }
            },
            "",
            "",
        )
        signed = result.output.get("signinoutb") or {}
        sign_no = str(signed.get("sign_no") or "")
        if not sign_no:
            raise PlatformUnreachable()
        row = PlatformSignIn(
            fixmedins_code=code,
            opter=opter,
            sign_date=day,
            generation=1 if current is None else current.generation + 1,
            sign_no=sign_no,
            signed_at=now,
            msgid=result.msgid,
        )
        async with self._sessions() as session:
            kept = await repository.add_sign_in(session, row)
            if not kept:
                winner = await repository.latest_sign_in(session, code, opter, day)
                assert winner is not None
                sign_no = winner.sign_no
            await session.commit()
        return sign_no

    def _envelope(
        self, infno: str, msgid: str, data: dict[str, Any], insured_area: str, sign_no: str
    ) -> PlatformRequest:
        settings = self._settings
        return PlatformRequest(
            infno=infno,
            msgid=msgid,
            mdtrtarea_admvs=settings.insurance_platform_area,
            insuplc_admdvs=insured_area,
            recer_sys_code=settings.insurance_platform_recer_sys_code,
            infver=settings.insurance_platform_infver,
            opter=settings.insurance_platform_opter,
            opter_name=settings.insurance_platform_opter_name,
            inf_time=interface_time(utcnow()),
            fixmedins_code=settings.insurance_platform_fixmedins_code,
            fixmedins_name=settings.insurance_platform_fixmedins_name,
            sign_no=sign_no,
            input=data,
        )

    async def _keep(
        self,
        envelope: PlatformRequest,
        direction: Literal["request", "answer", "failure"],
        body: str,
        answer: PlatformAnswer | None = None,
        subject: str | None = None,
    ) -> bool:
        row = PlatformMessage(
            msgid=envelope.msgid,
            attempt=1,
            infno=envelope.infno,
            direction=direction,
            at=utcnow(),
            infcode=None if answer is None else answer.infcode,
            inf_refmsgid=None if answer is None else answer.inf_refmsgid,
            subject=subject,
            body=body,
        )
        async with self._sessions() as session:
            kept = await repository.add_message(session, row)
            await session.commit()
        return kept

    async def _new_request(
        self,
        infno: str,
        data: dict[str, Any],
        insured_area: str,
        sign_no: str,
        subject: str | None,
    ) -> PlatformRequest:
        """The envelope under a message id no other message has, kept before it is sent."""
        code = self._settings.insurance_platform_fixmedins_code
        for _ in range(MSGID_TRIES):
            msgid = message_id(code, utcnow(), next(self._sequence) % SEQUENCE_SPACE)
            envelope = self._envelope(infno, msgid, data, insured_area, sign_no)
            if await self._keep(envelope, "request", envelope.model_dump_json(), None, subject):
                return envelope
        raise RuntimeError("no free message id: more than 10,000 messages in one second?")

    async def _post(self, envelope: PlatformRequest, subject: str | None) -> httpx.Response:
        """POST one kept envelope within the timeout; failures kept and raised."""
        timeout = self._settings.insurance_platform_timeout_seconds
        try:
            # httpx's timeout bounds each phase; this bounds the whole exchange.
            async with asyncio.timeout(timeout):
                return await self._http.post(
                    self._url,
                    content=envelope.model_dump_json().encode(),
                    headers={"Content-Type": "application/json;charset=utf-8"},
                    timeout=timeout,
                )
        except (TimeoutError, httpx.TimeoutException) as exc:
            await self._keep(envelope, "failure", json.dumps({"failure": "timeout"}), None, subject)
            raise PlatformTimeout() from exc
        except httpx.HTTPError as exc:
            unreachable = {"failure": "unreachable", "error": type(exc).__name__}
            await self._keep(envelope, "failure", json.dumps(unreachable), None, subject)
            raise PlatformUnreachable() from exc

    async def _answer(
        self, envelope: PlatformRequest, response: httpx.Response, subject: str | None
    ) -> PlatformAnswer:
        """The response read as an answer (kept), or kept as a failure and raised."""
        try:
            if response.status_code != httpx.codes.OK:
                raise ValueError(f"HTTP {response.status_code}")
            answer = PlatformAnswer.model_validate_json(response.content)
        except ValueError as exc:  # pydantic's ValidationError is one
            failure: dict[str, object] = {
                "failure": "not an answer",
                "status": response.status_code,
                "text": response.text[:2000],
            }
            await self._keep(
                envelope, "failure", json.dumps(failure, ensure_ascii=False), None, subject
            )
            raise PlatformUnreachable() from exc
        await self._keep(envelope, "answer", response.text, answer, subject)
        if answer.infcode != SUCCESS:
            raise PlatformRefused(answer.infcode, answer.err_msg)
        return answer

    async def download(self, data: dict[str, Any], *, subject: str | None = None) -> bytes:
        """9102: the file the platform prepared (`fsDownloadIn`: file_qury_no, filename,
        fixmedins_code), sent back as the bytes themselves; a JSON answer is a refusal. The
        audit keeps the file's size and SHA-256, not its content."""
        sign_no = await self.sign_no()
        envelope = await self._new_request(DOWNLOAD, data, "", sign_no, subject)
        response = await self._post(envelope, subject)
        if response.status_code == httpx.codes.OK and not response.headers.get(
            "content-type", ""
        ).startswith("application/json"):
            received = {
                "file": {
                    "bytes": len(response.content),
                    "sha256": sha256(response.content).hexdigest(),
                }
            }
            answer = PlatformAnswer(infcode=SUCCESS)
            await self._keep(envelope, "answer", json.dumps(received), answer, subject)
            return response.content
        await self._answer(envelope, response, subject)
        raise PlatformUnreachable()  # an answer without the file

    async def _exchange(
        self,
        infno: str,
        data: dict[str, Any],
        insured_area: str,
        sign_no: str,
        subject: str | None = None,
    ) -> PlatformResult:
        envelope = await self._new_request(infno, data, insured_area, sign_no, subject)
        response = await self._post(envelope, subject)
        answer = await self._answer(envelope, response, subject)
        return PlatformResult(msgid=envelope.msgid, output=answer.output or {})
