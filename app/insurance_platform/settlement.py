"""Settling a hand-over on the platform, and undoing it: the platform's split is the truth, the
local rules' split the estimate it is compared with.

At hand-over (after the local settlement is booked, in the same transaction):
1101 person (its `psn_no`) -> 2201 outpatient registration (`mdtrt_id`) -> 2203 visit
information (med_type 14, 门诊慢特病, with the catalogue disease: `dise_codg` is the city's
code, whose sub-codes such as M01603 carry their own annual limit) -> 2204 fee details with the
national drug codes (`chrg_bchno`) -> 2207 settlement (`setl_id` and the split). A refusal at
any step fails the hand-over (502, the platform's err_msg); so does no answer (504).

Never paid twice: every settlement message names its order (`subject`). Before an order is
settled, earlier 2207s of that order that were never booked here are resolved: one without an
answer is voided by its message id (2601 冲正, `omsgid`); one answered but lost with a rolled-back
transaction is reversed (2208). If that cannot be done, the hand-over is refused. A 2207 that
times out is voided at once, so the caller's retry starts clean.

A return or a refused claim reverses with 2208 (setl_id, mdtrt_id, psn_no). Field names as the
specification's 2201/2203/2204/2207/2208/2601 tables (see docs/insurance-platform.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import AppError, Conflict
from app.insurance import repository as insurance_repository
from app.insurance_platform import repository
from app.insurance_platform.amounts import fen_to_yuan, yuan_to_fen
from app.insurance_platform.client import InsurancePlatform, PlatformRefused, PlatformTimeout
from app.insurance_platform.envelope import SUCCESS, interface_time
from app.insurance_platform.persons import RESIDENT_ID_CARD, query_person
from app.kit.clock import utcnow
from app.kit.repository import by_id
from app.models import (
    ChronicDisease,
    Doctor,
    InsuredIdentity,
    PharmacyOrder,
    PlatformMessage,
    PlatformSettlement,
    Prescription,
    Settlement,
)

log = structlog.get_logger(__name__)

REGISTER = "2201"
WITHDRAW_REGISTRATION = "2202"
VISIT = "2203"
FEES = "2204"
WITHDRAW_FEES = "2205"
SETTLE = "2207"
REVERSE = "2208"
VOID = "2601"
# 医疗类别 14: 门诊慢特病 (outpatient chronic and special diseases).
CHRONIC_OUTPATIENT = "14"
# 个人结算方式 01: 按项目结算.
BY_ITEM = "01"


@contextmanager
def _kept_from_hiding(what: str) -> Iterator[None]:
    """Clean-up after a failure must not hide the failure: its own is logged instead."""
    try:
        yield
    except AppError as exc:
        log.warning("platform clean-up failed", what=what, code=exc.code)


def order_subject(settlement: Settlement) -> str:
    return f"order:{settlement.order_id}"


async def settle(
    session: AsyncSession, platform: InsurancePlatform, settlement: Settlement
) -> PlatformSettlement:
    """Settle a just-booked local settlement on the platform (idempotent per settlement)."""
    existing = await repository.platform_settlement_of(session, settlement.id)
    if existing is not None:
        return existing
    subject = order_subject(settlement)
    await resolve_earlier_attempts(session, platform, subject)
    identity = await by_id(session, InsuredIdentity, settlement.insured_identity_id)
    assert identity is not None
    area = identity.insured_area
    person = await query_person(platform, identity.national_id, area, subject)
    if person.record is None or person.record.insurance_type != identity.insurance_type:
        # Two sources, compared: the platform no longer insures the person as verified.
        raise Conflict("platform_identity_differs")
    certificate = {"mdtrt_cert_type": RESIDENT_ID_CARD, "mdtrt_cert_no": identity.national_id}
    common = {"psn_no": person.psn_no, "insutype": identity.insurance_type}
    doctor, disease = await _visit_parties(session, settlement)
    begun = interface_time(settlement.service_at)
    registered = await platform.call(
        REGISTER,
        {
            "data": {
                **common,
                **certificate,
                "begntime": begun,
                "ipt_otp_no": settlement.order_id.hex[:30],
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
    mdtrt_id = str((registered.output.get("data") or {}).get("mdtrt_id") or "")
    visit = {"psn_no": person.psn_no, "mdtrt_id": mdtrt_id}
    chrg_bchno = settlement.id.hex[:30]
    try:
        await platform.call(
            VISIT,
            {
                "mdtrtinfo": {
                    "mdtrt_id": mdtrt_id,
                    "psn_no": person.psn_no,
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
            insured_area=area,
            subject=subject,
        )
        items = await insurance_repository.settlement_items(session, settlement.id)
        await platform.call(
            FEES,
            {
                "feedetail": [
                    {
                        "feedetl_sn": f"{chrg_bchno[:26]}{item.line_no:04d}",
                        "mdtrt_id": mdtrt_id,
                        "psn_no": person.psn_no,
                        "chrg_bchno": chrg_bchno,
                        "dise_codg": disease.code,
                        "med_type": CHRONIC_OUTPATIENT,
                        "fee_ocur_time": begun,
                        "med_list_codg": item.national_code,
                        "medins_list_codg": item.national_code,
                        "det_item_fee_sumamt": fen_to_yuan(item.amount_fen),
                        "cnt": item.quantity,
                        "pric": fen_to_yuan(item.unit_price_fen),
                        "bilg_dr_codg": doctor.id.hex[:30],
                        "bilg_dr_name": doctor.name,
                        "hosp_appr_flag": "1",
                    }
                    for item in items
                ]
            },
            insured_area=area,
            subject=subject,
        )
        try:
            settled = await platform.call(
                SETTLE,
                {
                    "data": {
                        **common,
                        **certificate,
                        "med_type": CHRONIC_OUTPATIENT,
                        "medfee_sumamt": fen_to_yuan(settlement.total_fen),
                        "psn_setlway": BY_ITEM,
                        "mdtrt_id": mdtrt_id,
                        "chrg_bchno": chrg_bchno,
                        "acct_used_flag": "1" if settlement.account_fen else "0",
                    }
                },
                insured_area=area,
                subject=subject,
            )
        except PlatformTimeout:
            # The answer is lost, not the settlement perhaps: void it now so a retry is clean (if
            # the void fails too, the next attempt resolves it before settling again).
            with _kept_from_hiding("void after a lost settlement answer"):
                await resolve_earlier_attempts(session, platform, subject)
            raise
    except PlatformRefused:
        # Nothing was settled: take the fee details (2205) and the registration (2202) back,
        # so the person has no open visit left on the platform.
        with _kept_from_hiding("withdrawal of a refused visit"):
            await platform.call(
                WITHDRAW_FEES,
                {"data": {**visit, "chrg_bchno": chrg_bchno}},
                insured_area=area,
                subject=subject,
            )
            await platform.call(
                WITHDRAW_REGISTRATION,
                {"data": {**visit, "ipt_otp_no": settlement.order_id.hex[:30]}},
                insured_area=area,
                subject=subject,
            )
        raise
    info = settled.output.get("setlinfo") or {}
    row = _platform_row(settlement, "settlement", settled.msgid, person.psn_no, info, mdtrt_id)
    if row.fund_difference_fen:
        log.warning(
            "platform split differs from the estimate",
            settlement_id=str(settlement.id),
            setl_id=row.setl_id,
            fund_difference_fen=row.fund_difference_fen,
        )
    await repository.add_platform_settlement(session, row)
    return row


def _platform_row(
    settlement: Settlement,
    kind: str,
    msgid: str,
    psn_no: str,
    info: dict[str, Any],
    mdtrt_id: str,
) -> PlatformSettlement:
    fund = yuan_to_fen(info.get("fund_pay_sumamt") or 0)
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
        fund_difference_fen=fund - settlement.fund_fen,
        at=utcnow(),
    )


async def _visit_parties(
    session: AsyncSession, settlement: Settlement
) -> tuple[Doctor, ChronicDisease]:
    order = await by_id(session, PharmacyOrder, settlement.order_id)
    assert order is not None
    prescription = await by_id(session, Prescription, order.prescription_id)
    assert prescription is not None
    doctor = await by_id(session, Doctor, prescription.doctor_id)
    disease = await by_id(session, ChronicDisease, settlement.disease_id)
    assert doctor is not None and disease is not None
    return doctor, disease


async def reverse(
    session: AsyncSession, platform: InsurancePlatform, original: Settlement, reversal: Settlement
) -> PlatformSettlement | None:
    """Reverse on the platform what it settled for `original` (None if it settled nothing:
    the settlement was made before the platform was configured)."""
    settled = await repository.platform_settlement_of(session, original.id)
    if settled is None or await repository.platform_settlement_of(session, reversal.id):
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
