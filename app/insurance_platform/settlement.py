"""Settling a hand-over on the platform, and undoing it: the platform's split is the truth and
what is booked, the local rules' split the estimate it is compared with.

At hand-over, before the settlement is booked (in the same transaction; the local rules have
estimated it): 1101 person (its `psn_no`) -> 2201 outpatient registration (`mdtrt_id`) -> 2203
visit information (med_type 14, 门诊慢特病, with the catalogue disease: `dise_codg` is the
city's code, whose sub-codes such as M01603 carry their own annual limit) -> 2204 fee details
with the national drug codes (`chrg_bchno`) -> 2207 settlement (`setl_id` and the split). The
settlement then books the platform's split (app.insurance.settlement). A refusal at any step
fails the hand-over (502, the platform's err_msg); so does no answer (504), or one whose split
does not add up to the fees sent (502, reversed at once). A fund share other than the local
estimate is raised as the service's own `platform` flag on the settlement: the bureau sees that
its rules and the service's rules table disagree.

Never paid twice: every settlement message names its order (`subject`). Before an order is
settled, earlier 2207s of that order that were never booked here are resolved: one without an
answer is voided by its message id (2601 冲正, `omsgid`); one answered but lost with a rolled-back
transaction is reversed (2208). If that cannot be done, the hand-over is refused. A 2207 that
times out is voided at once, so the caller's retry starts clean.

A return or a refused claim reverses with 2208 (setl_id, mdtrt_id, psn_no): what was booked,
the platform's split. Field names as the specification's 2201/2203/2204/2207/2208/2601 tables
(see docs/insurance-platform.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import AppError, Conflict
from app.insurance import flags
from app.insurance import repository as insurance_repository
from app.insurance_platform import repository
from app.insurance_platform.amounts import yuan_to_fen
from app.insurance_platform.client import (
    InsurancePlatform,
    PlatformRefused,
    PlatformTimeout,
    PlatformUnreachable,
)
from app.insurance_platform.envelope import SUCCESS, interface_time
from app.insurance_platform.persons import RESIDENT_ID_CARD, query_person
from app.kit.clock import utcnow
from app.kit.money import fen_to_yuan
from app.kit.repository import by_id
from app.models import (
    ChronicDisease,
    Doctor,
    InsuredIdentity,
    PharmacyOrder,
    PlatformMessage,
    PlatformSettlement,
    Prescription,
    Presettlement,
    Settlement,
)

log = structlog.get_logger(__name__)

REGISTER = "2201"
WITHDRAW_REGISTRATION = "2202"
VISIT = "2203"
FEES = "2204"
WITHDRAW_FEES = "2205"
PRESETTLE = "2206"
SETTLE = "2207"
REVERSE = "2208"
VOID = "2601"
# 医疗类别 14: 门诊慢特病 (outpatient chronic and special diseases).
CHRONIC_OUTPATIENT = "14"
# 个人结算方式 01: 按项目结算.
BY_ITEM = "01"
# Presettlement.platform_status: the platform's 2206 split is kept; or it could not be had.
PLATFORM_PRESETTLED = "presettled"
PLATFORM_UNAVAILABLE = "unavailable"


@contextmanager
def _kept_from_hiding(what: str) -> Iterator[None]:
    """Clean-up after a failure must not hide the failure: its own is logged instead."""
    try:
        yield
    except AppError as exc:
        log.warning("platform clean-up failed", what=what, code=exc.code)


def order_subject(settlement: Settlement) -> str:
    return f"order:{settlement.order_id}"


def quote_subject(quote: Presettlement) -> str:
    return f"quote:{quote.order_id}"


@dataclass(frozen=True)
class _Visit:
    """An outpatient visit registered on the platform (2201) for one claim."""

    area: str
    psn_no: str
    insutype: str
    certno: str
    mdtrt_id: str
    # 收费批次号: the fee batch of this claim (its settlement's or quote's id).
    chrg_bchno: str
    ipt_otp_no: str
    subject: str

    @property
    def ids(self) -> dict[str, str]:
        return {"psn_no": self.psn_no, "mdtrt_id": self.mdtrt_id}


@dataclass(frozen=True)
class _Fee:
    line_no: int
    national_code: str
    quantity: int
    unit_price_fen: int
    amount_fen: int


def _fees(lines: Sequence[Mapping[str, Any]]) -> list[_Fee]:
    """The fee lines of a claim (a quote's stored lines or a settlement's items)."""
    return [
        _Fee(
            line_no=number,
            national_code=str(line["national_code"]),
            quantity=int(line["quantity"]),
            unit_price_fen=int(line["unit_price_fen"]),
            amount_fen=int(line["amount_fen"]),
        )
        for number, line in enumerate(lines, start=1)
    ]


async def _register(
    session: AsyncSession,
    platform: InsurancePlatform,
    claim: Settlement | Presettlement,
    subject: str,
) -> tuple[_Visit, Doctor, ChronicDisease]:
    """1101 (the person's psn_no, compared with the verified identity) and 2201."""
    identity = await by_id(session, InsuredIdentity, claim.insured_identity_id)
    assert identity is not None
    area = identity.insured_area
    person = await query_person(platform, identity.national_id, area, subject)
    if person.record is None or person.record.insurance_type != identity.insurance_type:
        # Two sources, compared: the platform no longer insures the person as verified.
        raise Conflict("platform_identity_differs")
    doctor, disease = await _visit_parties(session, claim)
    ipt_otp_no = claim.order_id.hex[:30]
    registered = await platform.call(
        REGISTER,
        {
            "data": {
                "psn_no": person.psn_no,
                "insutype": identity.insurance_type,
                "mdtrt_cert_type": RESIDENT_ID_CARD,
                "mdtrt_cert_no": identity.national_id,
                "begntime": interface_time(claim.service_at),
                "ipt_otp_no": ipt_otp_no,
                # The service keeps no national doctor codes (医保医师代码) yet: the doctor's
                # own id here names them until the catalogue carries them.
                "atddr_no": doctor.id.hex[:30],
                "dr_name": doctor.name,
                "dept_code": doctor.department_zh[:30],
                "dept_name": doctor.department_zh,
                "caty": doctor.department_zh[:30],
            }
        },
        insured_area=area,
        subject=subject,
    )
    visit = _Visit(
        area=area,
        psn_no=person.psn_no,
        insutype=identity.insurance_type,
        certno=identity.national_id,
        mdtrt_id=str((registered.output.get("data") or {}).get("mdtrt_id") or ""),
        chrg_bchno=claim.id.hex[:30],
        ipt_otp_no=ipt_otp_no,
        subject=subject,
    )
    return visit, doctor, disease


async def _upload(
    platform: InsurancePlatform,
    visit: _Visit,
    claim: Settlement | Presettlement,
    doctor: Doctor,
    disease: ChronicDisease,
    fees: list[_Fee],
) -> None:
    """2203 visit information (med_type 14 with the catalogue disease) and 2204 fee details."""
    begun = interface_time(claim.service_at)
    await platform.call(
        VISIT,
        {
            "mdtrtinfo": {
                **visit.ids,
                "med_type": CHRONIC_OUTPATIENT,
                "begntime": begun,
                "dise_codg": disease.code,
                "dise_name": disease.name_zh,
            },
            "diseinfo": [
                {
                    "diag_type": "1",
                    "diag_srt_no": "1",
                    "diag_code": disease.national_code,
                    "diag_name": disease.name_zh,
                    "diag_dept": doctor.department_zh,
                    "dise_dor_no": doctor.id.hex[:30],
                    "dise_dor_name": doctor.name,
                    "diag_time": begun,
                    "vali_flag": "1",
                }
            ],
        },
        insured_area=visit.area,
        subject=visit.subject,
    )
    await platform.call(
        FEES,
        {
            "feedetail": [
                {
                    "feedetl_sn": f"{visit.chrg_bchno[:26]}{fee.line_no:04d}",
                    **visit.ids,
                    "chrg_bchno": visit.chrg_bchno,
                    "dise_codg": disease.code,
                    "med_type": CHRONIC_OUTPATIENT,
                    "fee_ocur_time": begun,
                    "med_list_codg": fee.national_code,
                    "medins_list_codg": fee.national_code,
                    "det_item_fee_sumamt": fen_to_yuan(fee.amount_fen),
                    "cnt": fee.quantity,
                    "pric": fen_to_yuan(fee.unit_price_fen),
                    "bilg_dr_codg": doctor.id.hex[:30],
                    "bilg_dr_name": doctor.name,
                    "hosp_appr_flag": "1",
                }
                for fee in fees
            ]
        },
        insured_area=visit.area,
        subject=visit.subject,
    )


def _settling(visit: _Visit, claim: Settlement | Presettlement) -> dict[str, Any]:
    """The input of 2206 and 2207 (the same fields: 2206 answers what 2207 would book)."""
    return {
        "data": {
            **visit.ids,
            "mdtrt_cert_type": RESIDENT_ID_CARD,
            "mdtrt_cert_no": visit.certno,
            "insutype": visit.insutype,
            "med_type": CHRONIC_OUTPATIENT,
            "medfee_sumamt": fen_to_yuan(claim.total_fen),
            "psn_setlway": BY_ITEM,
            "chrg_bchno": visit.chrg_bchno,
            "acct_used_flag": "1" if claim.account_fen else "0",
        }
    }


async def _withdraw(platform: InsurancePlatform, visit: _Visit) -> None:
    """Take the fee details (2205) and the registration (2202) back: no open visit is left."""
    await platform.call(
        WITHDRAW_FEES,
        {"data": {**visit.ids, "chrg_bchno": visit.chrg_bchno}},
        insured_area=visit.area,
        subject=visit.subject,
    )
    await platform.call(
        WITHDRAW_REGISTRATION,
        {"data": {**visit.ids, "ipt_otp_no": visit.ipt_otp_no}},
        insured_area=visit.area,
        subject=visit.subject,
    )


async def presettle(
    session: AsyncSession, platform: InsurancePlatform, quote: Presettlement
) -> None:
    """The platform's pre-settlement (2206) of a just-computed quote, kept on it beside the
    local estimate. The visit is registered and its fees uploaded for it, then withdrawn
    (2205, 2202) whatever the answer: hand-over opens its own. A refusal refuses the quote
    (and so the order; 502 with the platform's err_msg): hand-over would be refused alike.
    No answer (504) or none to read leaves the local estimate marked `unavailable`."""
    if quote.platform_status is not None:
        return
    subject = quote_subject(quote)
    fees = _fees(quote.lines)
    try:
        visit, doctor, disease = await _register(session, platform, quote, subject)
        try:
            await _upload(platform, visit, quote, doctor, disease, fees)
            answer = await platform.call(
                PRESETTLE, _settling(visit, quote), insured_area=visit.area, subject=subject
            )
        finally:
            with _kept_from_hiding("withdrawal of a pre-settled visit"):
                await _withdraw(platform, visit)
        info = answer.output.get("setlinfo") or {}
        split = {
            name: yuan_to_fen(info.get(field) or 0)
            for name, field in (
                ("platform_total_fen", "medfee_sumamt"),
                ("platform_fund_fen", "fund_pay_sumamt"),
                ("platform_account_fen", "acct_pay"),
                ("platform_cash_fen", "psn_cash_pay"),
            )
        }
    except (PlatformTimeout, PlatformUnreachable) as exc:
        log.warning(
            "platform pre-settlement unavailable", order_id=str(quote.order_id), code=exc.code
        )
        quote.platform_status = PLATFORM_UNAVAILABLE
        await session.flush()
        return
    quote.platform_status = PLATFORM_PRESETTLED
    quote.platform_msgid = answer.msgid
    for name, fen in split.items():
        setattr(quote, name, fen)
    await session.flush()


async def settle(
    session: AsyncSession,
    platform: InsurancePlatform,
    draft: Settlement,
    items: Sequence[Mapping[str, Any]],
) -> PlatformSettlement:
    """Settle a claim on the platform before it is booked here: `draft` is the settlement as
    the local rules estimate it (not stored yet), `items` its drug lines in order. Returns the
    platform's row (not stored yet: it refers to the settlement) with its split, which the
    settlement books, and the estimate beside it."""
    subject = order_subject(draft)
    await resolve_earlier_attempts(session, platform, subject)
    visit, doctor, disease = await _register(session, platform, draft, subject)
    try:
        await _upload(platform, visit, draft, doctor, disease, _fees(items))
        try:
            settled = await platform.call(
                SETTLE, _settling(visit, draft), insured_area=visit.area, subject=subject
            )
        except PlatformTimeout:
            # The answer is lost, not the settlement perhaps: void it now so a retry is clean (if
            # the void fails too, the next attempt resolves it before settling again).
            with _kept_from_hiding("void after a lost settlement answer"):
                await resolve_earlier_attempts(session, platform, subject)
            raise
    except PlatformRefused:
        # Nothing was settled: the person has no open visit left on the platform.
        with _kept_from_hiding("withdrawal of a refused visit"):
            await _withdraw(platform, visit)
        raise
    info = settled.output.get("setlinfo") or {}
    row = _platform_row(draft, "settlement", settled.msgid, visit.psn_no, info, visit.mdtrt_id)
    if not _adds_up(row, draft):
        # A split that cannot be booked: the platform's settlement is taken back at once (a
        # retry would reverse it first anyway), and the hand-over fails.
        log.error("platform settlement does not add up", setl_id=row.setl_id, msgid=row.msgid)
        with _kept_from_hiding("reversal of a settlement that does not add up"):
            await resolve_earlier_attempts(session, platform, subject)
        raise PlatformUnreachable()
    return row


def _adds_up(row: PlatformSettlement, draft: Settlement) -> bool:
    """The platform settled the fees sent, and its shares are those fees divided."""
    shares = (row.fund_fen, row.account_fen, row.cash_fen)
    return row.total_fen == draft.total_fen == sum(shares) and min(shares) >= 0


async def flag_difference(session: AsyncSession, settlement: Settlement) -> None:
    """Where the platform settled another fund share than the local rules estimated, raise the
    service's own flag for the bureau (once): the rules table here is not the platform's."""
    row = await insurance_repository.platform_settlement_of(session, settlement.id)
    if row is None or not row.fund_difference_fen:
        return
    log.warning(
        "platform split differs from the estimate",
        settlement_id=str(settlement.id),
        setl_id=row.setl_id,
        fund_difference_fen=row.fund_difference_fen,
    )
    await flags.flag_platform_difference(
        session,
        settlement,
        f"医保信息平台结算（结算ID {row.setl_id}）的统筹基金支付 {fen_to_yuan(row.fund_fen)} 元"
        f"与本地测算 {fen_to_yuan(row.estimate_fund_fen)} 元不符，已按平台结算入账",
    )


def _platform_row(
    settlement: Settlement,
    kind: str,
    msgid: str,
    psn_no: str,
    info: dict[str, Any],
    mdtrt_id: str,
) -> PlatformSettlement:
    fund = yuan_to_fen(info.get("fund_pay_sumamt") or 0)
    # `settlement` holds the local estimate here: a draft not yet booked, or a reversal of
    # what was booked (whose platform reversal should mirror it).
    return PlatformSettlement(
        settlement_id=settlement.id,
        kind=kind,
        msgid=msgid,
        setl_id=str(info.get("setl_id") or ""),
        mdtrt_id=str(info.get("mdtrt_id") or mdtrt_id),
        psn_no=psn_no,
        total_fen=yuan_to_fen(info.get("medfee_sumamt") or 0),
        fund_fen=fund,
        account_fen=yuan_to_fen(info.get("acct_pay") or 0),
        cash_fen=yuan_to_fen(info.get("psn_cash_pay") or 0),
        estimate_fund_fen=settlement.fund_fen,
        estimate_account_fen=settlement.account_fen,
        estimate_cash_fen=settlement.cash_fen,
        fund_difference_fen=fund - settlement.fund_fen,
        at=utcnow(),
    )


async def _visit_parties(
    session: AsyncSession, claim: Settlement | Presettlement
) -> tuple[Doctor, ChronicDisease]:
    order = await by_id(session, PharmacyOrder, claim.order_id)
    assert order is not None
    prescription = await by_id(session, Prescription, order.prescription_id)
    assert prescription is not None
    doctor = await by_id(session, Doctor, prescription.doctor_id)
    disease = await by_id(session, ChronicDisease, claim.disease_id)
    assert doctor is not None and disease is not None
    return doctor, disease


async def reverse(
    session: AsyncSession, platform: InsurancePlatform, original: Settlement, reversal: Settlement
) -> PlatformSettlement | None:
    """Reverse on the platform what it settled for `original` (None if it settled nothing:
    the settlement was made before the platform was configured)."""
    settled = await insurance_repository.platform_settlement_of(session, original.id)
    if settled is None or await insurance_repository.platform_settlement_of(session, reversal.id):
        return None
    identity = await by_id(session, InsuredIdentity, original.insured_identity_id)
    assert identity is not None
    result = await platform.call(
        REVERSE,
        {
            "data": {
                "setl_id": settled.setl_id,
                "mdtrt_id": settled.mdtrt_id,
                "psn_no": settled.psn_no,
            }
        },
        insured_area=identity.insured_area,
        subject=settled.msgid,
    )
    info = result.output.get("setlinfo") or {}
    row = _platform_row(reversal, "reversal", result.msgid, settled.psn_no, info, settled.mdtrt_id)
    await repository.add_platform_settlement(session, row)
    return row


async def resolve_earlier_attempts(
    session: AsyncSession, platform: InsurancePlatform, subject: str
) -> None:
    """Undo every 2207 about `subject` that the platform may have booked but this service did
    not: voided (2601) when no answer came, reversed (2208) when one did. Raises (refusing the
    settlement) when the platform cannot be made to undo one."""
    for request in await repository.requests_about(session, subject, SETTLE):
        if await repository.platform_settlement_by_msgid(session, request.msgid):
            continue
        answer = await repository.answer_to(session, request.msgid)
        if answer is not None and answer.infcode != SUCCESS:
            continue  # refused: nothing was booked
        if await repository.undone(session, request.msgid):
            continue
        sent = json.loads(request.body)
        area = str(sent.get("insuplc_admdvs") or "")
        psn_no = str(sent["input"]["data"]["psn_no"])
        if answer is None:
            await platform.call(
                VOID,
                {"data": {"psn_no": psn_no, "omsgid": request.msgid, "oinfno": SETTLE}},
                insured_area=area,
                subject=request.msgid,
            )
        else:
            await _reverse_answered(platform, answer, psn_no, area)


async def _reverse_answered(
    platform: InsurancePlatform, answer: PlatformMessage, psn_no: str, area: str
) -> None:
    info = (json.loads(answer.body).get("output") or {}).get("setlinfo") or {}
    await platform.call(
        REVERSE,
        {
            "data": {
                "setl_id": info.get("setl_id"),
                "mdtrt_id": info.get("mdtrt_id"),
                "psn_no": psn_no,
            }
        },
        insured_area=area,
        subject=answer.msgid,
    )
