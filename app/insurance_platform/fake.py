"""A development stand-in for the insurance platform (never in prod), speaking its envelope.

Mounted under /_dev/insurance-platform when FAKE_INSURANCE_PLATFORM_ENABLED (point
INSURANCE_PLATFORM_URL at it). `POST /` takes an envelope and answers as the platform does:
9001 issues a sign-in number; every other transaction needs a number it issued, a fresh
`msgid` and a well-formed envelope, else infcode -1 with `err_msg`. It keeps its own state:
persons (1101), visits (2201, 2203; withdrawn by 2202), fee details (2204; withdrawn by 2205),
pre-settlements (2206: the split 2207 would book, booking nothing), settlements (2207; undone
by 2208 and by 2601 voids), each person's deductible and, per disease (the visit's `dise_codg`
from 2203), fund use; 3201 compares an institution's monthly totals with its own bookings; 3202
compares a detail file uploaded with 9101 line by line and prepares a result file, which 9102
hands out. Its split engine is the service's own (`app.insurance.calculation.split_claim`)
under terms it is given per insurance type and an annual limit per insurance type and disease
(按病种限额, as the service's catalogue), on its own catalogue classes (甲 01, 乙 02, 丙 03;
codes it does not list are 丙).

Through `/_control/...` (dev only, like the fake's whole surface) it is told its persons,
terms, disease limits and catalogue, and to refuse everything (or one transaction) with a given
`err_msg`, to answer late, to answer a different fund share, or to lose its answers to one
transaction after doing it; it shows what it received, its open visits and its settlements.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, Protocol

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, Field, ValidationError

from app.insurance.calculation import QuotaState, Terms, split_claim
from app.insurance.claims import ClaimItem, InsuranceClass, Split
from app.insurance_platform.amounts import yuan_to_fen
from app.insurance_platform.envelope import PlatformRequest, interface_time
from app.kit.clock import to_shanghai, utcnow
from app.kit.money import fen_to_yuan

FAKE_PLATFORM_PATH = "/_dev/insurance-platform"
FAILED = -1
# Fields of a 3202 detail file line (setl_id ... refd_setl_flag).
DETAIL_FIELDS = 7


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
    """Refuse every transaction but sign-in (or only `refuse_only`) with this `err_msg`; answer
    this many seconds late;
    pay this much more (or less) from the fund than the rules say; do transaction
    `lose_answer_of` but answer it only after `delay_seconds` (a lost answer)."""

    refuse_with: str | None = None
    # Refuse only this transaction (with `refuse_with`); every other one as usual.
    refuse_only: str | None = Field(default=None, pattern=r"^\d{4}$")
    delay_seconds: float = Field(default=0.0, ge=0, le=120)
    fund_delta_fen: int = 0
    lose_answer_of: str | None = Field(default=None, pattern=r"^\d{4}$")


class FakeTerms(BaseModel):
    """The benefit terms the fake settles one insurance type under (as a benefit rule)."""

    deductible_fen: int = Field(ge=0)
    reimbursement_bp: int = Field(ge=0, le=10_000)
    partial_prepay_bp: int = Field(ge=0, le=10_000)


class FakeLimit(BaseModel):
    """A disease's annual limit for one insurance type (按病种限额)."""

    annual_limit_fen: int = Field(ge=0)


class FakeCatalogueEntry(BaseModel):
    """A national code's class on the fake's catalogue (收费项目等级)."""

    med_list_codg: str = Field(min_length=1, max_length=50)
    chrgitm_lv: Literal["01", "02", "03"]


class FakeDirectory(Protocol):
    """Where the fake looks up what it was not told: a person, an insurance type's terms, the
    classes of national drug codes (app/insurance_platform/fake_directory.py in dev)."""

    async def person(self, certno: str) -> FakePerson | None: ...

    async def terms(self, insutype: str) -> FakeTerms | None: ...

    async def annual_limit(self, insutype: str, dise_codg: str) -> int | None: ...

    async def classes(self, codes: Sequence[str]) -> dict[str, Literal["01", "02", "03"]]: ...


CLASSES: dict[str, InsuranceClass] = {"01": "full", "02": "partial", "03": "self_pay"}


@dataclass
class FakeSettlement:
    msgid: str
    setl_id: str
    psn_no: str
    mdtrt_id: str
    insutype: str
    dise_codg: str
    split: Split
    # Beijing dates it was booked and undone (reconciliation counts each in its own month).
    settled_on: str
    undone_on: str | None = None

    @property
    def undone(self) -> bool:
        return self.undone_on is not None


@dataclass
class FakePlatformState:
    persons: dict[str, FakePerson] = field(default_factory=dict)
    sign_nos: set[str] = field(default_factory=set)
    msgids: set[str] = field(default_factory=set)
    received: list[dict[str, Any]] = field(default_factory=list)
    behaviour: FakeBehaviour = field(default_factory=FakeBehaviour)
    sequence: int = 0
    terms: dict[str, FakeTerms] = field(default_factory=dict)
    # (insutype, dise_codg) -> annual limit in fen.
    limits: dict[tuple[str, str], int] = field(default_factory=dict)
    catalogue: dict[str, str] = field(default_factory=dict)
    # mdtrt_id -> (psn_no, insutype); mdtrt_id -> dise_codg (2203); chrg_bchno -> fee lines.
    visits: dict[str, tuple[str, str]] = field(default_factory=dict)
    visit_diseases: dict[str, str] = field(default_factory=dict)
    fees: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # psn_no -> deductible met; (psn_no, dise_codg) -> fund paid towards that disease's limit.
    deductibles: dict[str, int] = field(default_factory=dict)
    limits_used: dict[tuple[str, str], int] = field(default_factory=dict)
    account_used: dict[str, int] = field(default_factory=dict)
    settlements: dict[str, FakeSettlement] = field(default_factory=dict)
    # file_qury_no -> (filename, content): uploaded (9101) and prepared (3202) files.
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def person_of(self, psn_no: str) -> FakePerson | None:
        return next((p for p in self.persons.values() if _psn_no(p) == psn_no), None)

    def serial(self, prefix: str) -> str:
        self.sequence += 1
        return f"{prefix}140300{to_shanghai(utcnow()):%y%m%d}{self.sequence:07d}"


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


def _psn_no(person: FakePerson) -> str:
    return f"14{person.certno[-10:]}"


def _person_output(person: FakePerson) -> dict[str, Any]:
    return {
        "baseinfo": {
            "psn_no": _psn_no(person),
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
    refusing = state.behaviour.refuse_only in (None, request.infno)
    if state.behaviour.refuse_with and refusing:
        return _refusal(state, state.behaviour.refuse_with)
    if request.infno == "1101":
        data = request.input.get("data") or {}
        person = state.persons.get(str(data.get("certno") or data.get("mdtrt_cert_no") or ""))
        if person is None:
            return _refusal(state, "未查询到该人员的参保信息")
        return _answer(state, _person_output(person))
    handler = _SETTLEMENT_TRANSACTIONS.get(request.infno)
    if handler is None:
        return _refusal(state, f"交易编号[{request.infno}]不存在")
    return handler(state, request)


def _register(state: FakePlatformState, request: PlatformRequest) -> dict[str, Any]:
    data = request.input.get("data") or {}
    person = state.person_of(str(data.get("psn_no")))
    if person is None or person.insutype != data.get("insutype"):
        return _refusal(state, "人员编号或险种类型有误")
    mdtrt_id = state.serial("M")
    state.visits[mdtrt_id] = (_psn_no(person), person.insutype)
    return _answer(state, {"data": {"mdtrt_id": mdtrt_id, "psn_no": _psn_no(person)}})


def _withdraw_registration(state: FakePlatformState, request: PlatformRequest) -> dict[str, Any]:
    data = request.input.get("data") or {}
    visit = state.visits.get(str(data.get("mdtrt_id")))
    if visit is None or visit[0] != data.get("psn_no"):
        return _refusal(state, "就诊记录不存在")
    if any(s.mdtrt_id == data.get("mdtrt_id") and not s.undone for s in state.settlements.values()):
        return _refusal(state, "该就诊已结算，不能撤销挂号")
    del state.visits[str(data["mdtrt_id"])]
    state.visit_diseases.pop(str(data["mdtrt_id"]), None)
    return _answer(state, {})


def _withdraw_fees(state: FakePlatformState, request: PlatformRequest) -> dict[str, Any]:
    data = request.input.get("data") or {}
    lines = state.fees.get(str(data.get("chrg_bchno")))
    if not lines or lines[0].get("mdtrt_id") != data.get("mdtrt_id"):
        return _refusal(state, "费用明细不存在")
    del state.fees[str(data["chrg_bchno"])]
    return _answer(state, {})


def _visit(state: FakePlatformState, request: PlatformRequest) -> dict[str, Any]:
    info = request.input.get("mdtrtinfo") or {}
    if info.get("mdtrt_id") not in state.visits or not info.get("med_type"):
        return _refusal(state, "就诊信息有误")
    if not info.get("dise_codg"):
        return _refusal(state, "门诊慢特病就诊须填写病种编码")
    state.visit_diseases[str(info["mdtrt_id"])] = str(info["dise_codg"])
    return _answer(state, {})


def _fees(state: FakePlatformState, request: PlatformRequest) -> dict[str, Any]:
    lines = list(request.input.get("feedetail") or [])
    if not lines or any(line.get("mdtrt_id") not in state.visits for line in lines):
        return _refusal(state, "费用明细有误")
    for line in lines:
        state.fees.setdefault(str(line["chrg_bchno"]), []).append(line)
    result = [
        {
            "feedetl_sn": line["feedetl_sn"],
            "det_item_fee_sumamt": line["det_item_fee_sumamt"],
            "chrgitm_lv": state.catalogue.get(str(line["med_list_codg"]), "03"),
        }
        for line in lines
    ]
    return _answer(state, {"result": result})


def _split(
    state: FakePlatformState, request: PlatformRequest
) -> tuple[FakePerson, tuple[str, str], Split] | dict[str, Any]:
    """The split 2206 and 2207 answer for a visit's fee batch, as the fake's engine computes
    it now (and as told to differ); a refusal when the request does not name a visit's fees."""
    data = request.input.get("data") or {}
    visit = state.visits.get(str(data.get("mdtrt_id")))
    lines = state.fees.get(str(data.get("chrg_bchno")))
    person = state.person_of(str(data.get("psn_no")))
    if visit is None or not lines or person is None:
        return _refusal(state, "未找到就诊或费用明细")
    terms = state.terms.get(visit[1])
    if terms is None:
        return _refusal(state, f"险种[{visit[1]}]无待遇政策")
    disease = state.visit_diseases.get(str(data["mdtrt_id"]))
    limit = state.limits.get((visit[1], disease or ""))
    if disease is None or limit is None:
        return _refusal(state, f"病种[{disease}]无险种[{visit[1]}]的年度限额")
    items = tuple(
        ClaimItem(
            drug_id=uuid.uuid5(uuid.NAMESPACE_URL, str(line["med_list_codg"])),
            national_code=str(line["med_list_codg"]),
            name_zh=str(line["med_list_codg"]),
            quantity=int(line["cnt"]),
            unit_price_fen=yuan_to_fen(line["pric"]),
            insurance_class=CLASSES[state.catalogue.get(str(line["med_list_codg"]), "03")],
        )
        for line in lines
    )
    if sum(item.amount_fen for item in items) != yuan_to_fen(data.get("medfee_sumamt")):
        return _refusal(state, "结算总金额与费用明细不符")
    psn_no = _psn_no(person)
    balance = yuan_to_fen(person.balc) - state.account_used.get(psn_no, 0)
    quota = QuotaState(
        state.deductibles.get(psn_no, 0), state.limits_used.get((psn_no, disease), 0)
    )
    split = split_claim(
        items,
        Terms(**terms.model_dump(), annual_limit_fen=limit),
        quota,
        balance if data.get("acct_used_flag") == "1" else 0,
    )
    delta = state.behaviour.fund_delta_fen
    if delta:
        fund = max(0, min(split.total_fen, split.fund_fen + delta))
        personal = split.total_fen - fund
        account = min(split.account_fen, personal)
        split = Split(
            **{
                **split.amounts(),
                "fund_fen": fund,
                "personal_fen": personal,
                "account_fen": account,
                "cash_fen": personal - account,
            },
            lines=split.lines,
        )
    return person, visit, split


def _presettle(state: FakePlatformState, request: PlatformRequest) -> dict[str, Any]:
    """2206: the split 2207 would book now, booking nothing (no setl_id)."""
    found = _split(state, request)
    if isinstance(found, dict):
        return found
    person, _, split = found
    mdtrt_id = str(request.input["data"]["mdtrt_id"])
    return _answer(state, {"setlinfo": _setlinfo("", _psn_no(person), mdtrt_id, split, 1)})


def _settle(state: FakePlatformState, request: PlatformRequest) -> dict[str, Any]:
    found = _split(state, request)
    if isinstance(found, dict):
        return found
    person, visit, split = found
    psn_no, mdtrt_id = _psn_no(person), str(request.input["data"]["mdtrt_id"])
    disease = state.visit_diseases[mdtrt_id]
    setl_id = state.serial("A")
    state.settlements[setl_id] = FakeSettlement(
        request.msgid, setl_id, psn_no, mdtrt_id, visit[1], disease, split, _today()
    )
    _book(state, psn_no, disease, split, 1)
    return _answer(state, {"setlinfo": _setlinfo(setl_id, psn_no, mdtrt_id, split, 1)})


def _book(state: FakePlatformState, psn_no: str, disease: str, split: Split, sign: int) -> None:
    state.deductibles[psn_no] = state.deductibles.get(psn_no, 0) + sign * split.deductible_fen
    used = state.limits_used.get((psn_no, disease), 0)
    state.limits_used[(psn_no, disease)] = used + sign * split.fund_fen
    state.account_used[psn_no] = state.account_used.get(psn_no, 0) + sign * split.account_fen


def _setlinfo(setl_id: str, psn_no: str, mdtrt_id: str, split: Split, sign: int) -> dict[str, Any]:
    def yuan(fen: int) -> str:
        return fen_to_yuan(sign * fen)

    eligible = split.total_fen - split.self_pay_fen - split.partial_prepay_fen
    return {
        "setl_id": setl_id,
        "mdtrt_id": mdtrt_id,
        "psn_no": psn_no,
        "setl_time": interface_time(utcnow()),
        "medfee_sumamt": yuan(split.total_fen),
        "fulamt_ownpay_amt": yuan(split.self_pay_fen),
        "overlmt_selfpay": yuan(split.over_limit_fen),
        "preselfpay_amt": yuan(split.partial_prepay_fen),
        "inscp_scp_amt": yuan(eligible),
        "act_pay_dedc": yuan(split.deductible_fen),
        "hifp_pay": yuan(split.fund_fen),
        "pool_prop_selfpay": yuan(split.copay_fen),
        "fund_pay_sumamt": yuan(split.fund_fen),
        "psn_part_amt": yuan(split.personal_fen),
        "acct_pay": yuan(split.account_fen),
        "psn_cash_pay": yuan(split.cash_fen),
        "hosp_part_amt": "0.00",
    }


def _today() -> str:
    return f"{to_shanghai(utcnow()):%Y-%m-%d}"


def _undo(state: FakePlatformState, settled: FakeSettlement) -> dict[str, Any]:
    settled.undone_on = _today()
    _book(state, settled.psn_no, settled.dise_codg, settled.split, -1)
    return _setlinfo(settled.setl_id, settled.psn_no, settled.mdtrt_id, settled.split, -1)


def _reverse(state: FakePlatformState, request: PlatformRequest) -> dict[str, Any]:
    data = request.input.get("data") or {}
    settled = state.settlements.get(str(data.get("setl_id")))
    if settled is None or settled.psn_no != data.get("psn_no"):
        return _refusal(state, "结算记录不存在")
    if settled.undone:
        return _refusal(state, "该结算已撤销")
    return _answer(state, {"setlinfo": _undo(state, settled)})


def _void(state: FakePlatformState, request: PlatformRequest) -> dict[str, Any]:
    """冲正 by the original message id: undoes what it did; a message that did nothing (never
    arrived, or was refused) has nothing to undo, which is success too."""
    data = request.input.get("data") or {}
    for settled in state.settlements.values():
        if settled.msgid == data.get("omsgid") and not settled.undone:
            _undo(state, settled)
    return _answer(state, {})


def _reconcile_totals(state: FakePlatformState, request: PlatformRequest) -> dict[str, Any]:
    """3201: the institution's totals against the fake's own bookings of the period."""
    data = request.input.get("data") or {}
    begin, end = str(data.get("stmt_begndate")), str(data.get("stmt_enddate"))
    count = total = fund = account = 0
    for settled in state.settlements.values():
        if settled.insutype != data.get("insutype"):
            continue
        for day, sign in ((settled.settled_on, 1), (settled.undone_on, -1)):
            if day is not None and begin <= day <= end:
                count += sign
                total += sign * settled.split.total_fen
                fund += sign * settled.split.fund_fen
                account += sign * settled.split.account_fen
    mine = {
        "medfee_sumamt": total,
        "fund_pay_sumamt": fund,
        "acct_pay": account,
        "fixmedins_setl_cnt": count,
    }
    theirs = {
        "medfee_sumamt": yuan_to_fen(data.get("medfee_sumamt") or 0),
        "fund_pay_sumamt": yuan_to_fen(data.get("fund_pay_sumamt") or 0),
        "acct_pay": yuan_to_fen(data.get("acct_pay") or 0),
        "fixmedins_setl_cnt": int(data.get("fixmedins_setl_cnt") or 0),
    }
    unequal = [name for name in mine if mine[name] != theirs[name]]
    return _answer(
        state,
        {
            "stmtinfo": {
                "setl_optins": data.get("setl_optins"),
                "stmt_rslt": "1" if unequal else "0",
                "stmt_rslt_dscr": "；".join(
                    f"{name}：中心{mine[name]}，机构{theirs[name]}" for name in unequal
                )
                or "对账平",
            }
        },
    )


def _upload(state: FakePlatformState, request: PlatformRequest) -> dict[str, Any]:
    """9101: keep the file (a byte array in `in`) under a new file_qury_no."""
    upload = request.input.get("fsUploadIn") or {}
    try:
        content = bytes(byte % 256 for byte in upload.get("in") or [])
    except (TypeError, ValueError):
        return _refusal(state, "文件数据格式有误")
    filename = str(upload.get("filename") or "")
    if not content or not filename:
        return _refusal(state, "文件数据或文件名为空")
    file_qury_no = f"fsi/fixmedins/{uuid.uuid4().hex}"
    state.files[file_qury_no] = (filename, content)
    return _answer(
        state, {"file_qury_no": file_qury_no, "filename": filename, "dld_endtime": _tomorrow()}
    )


def _zip(name: str, lines: list[list[str]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, "".join("\t".join(line) + "\n" for line in lines).encode())
    return buffer.getvalue()


def _reconcile_details(state: FakePlatformState, request: PlatformRequest) -> dict[str, Any]:
    """3202: the uploaded detail file against the fake's own bookings of the period; the
    result file lists every line that does not agree (fetched with 9102)."""
    data = request.input.get("data") or {}
    uploaded = state.files.get(str(data.get("file_qury_no")))
    if uploaded is None:
        return _refusal(state, "文件查询号不存在")
    try:
        with zipfile.ZipFile(io.BytesIO(uploaded[1])) as archive:
            [name] = archive.namelist()
            text = archive.read(name).decode()
    except (zipfile.BadZipFile, ValueError, UnicodeDecodeError):
        return _refusal(state, "对账明细文件无法解析")
    theirs = {
        (fields[0], fields[6]): fields
        for fields in (line.split("\t") for line in text.splitlines())
        if len(fields) == DETAIL_FIELDS
    }
    begin, end = str(data.get("stmt_begndate")), str(data.get("stmt_enddate"))
    mine: dict[tuple[str, str], tuple[FakeSettlement, int]] = {}
    for settled in state.settlements.values():
        for day, flag, sign in ((settled.settled_on, "0", 1), (settled.undone_on, "1", -1)):
            if day is not None and begin <= day <= end:
                mine[(settled.setl_id, flag)] = (settled, sign)
    lines = []
    for key in sorted(set(mine) | set(theirs)):
        sent = theirs.get(key)
        if key not in mine:
            assert sent is not None
            lines.append(
                [sent[2], sent[1], key[0], "", "1", key[1], "医药机构有，中心无", *sent[3:6]]
            )
            continue
        settled, sign = mine[key]
        amounts = [
            fen_to_yuan(sign * settled.split.total_fen),
            fen_to_yuan(sign * settled.split.fund_fen),
            fen_to_yuan(sign * settled.split.account_fen),
        ]
        if sent is None or sent[3:6] != amounts:
            memo = "中心有，医药机构无" if sent is None else "金额不一致"
            lines.append(
                [
                    settled.psn_no,
                    settled.mdtrt_id,
                    key[0],
                    settled.msgid,
                    "1",
                    key[1],
                    memo,
                    *amounts,
                ]
            )
    file_qury_no = f"fsi/plc/{uuid.uuid4().hex}"
    filename = f"{uuid.uuid4().hex}.txt.zip"
    state.files[file_qury_no] = (filename, _zip(filename.removesuffix(".zip"), lines))
    return _answer(
        state,
        {
            "fileinfo": {
                "file_qury_no": file_qury_no,
                "filename": filename,
                "dld_endtime": _tomorrow(),
            }
        },
    )


def _tomorrow() -> str:
    return interface_time(utcnow() + timedelta(days=1))


_SETTLEMENT_TRANSACTIONS = {
    "2201": _register,
    "2202": _withdraw_registration,
    "2203": _visit,
    "2204": _fees,
    "2205": _withdraw_fees,
    "2206": _presettle,
    "2207": _settle,
    "2208": _reverse,
    "2601": _void,
    "3201": _reconcile_totals,
    "3202": _reconcile_details,
    "9101": _upload,
}


async def _consult(
    state: FakePlatformState, directory: FakeDirectory, request: PlatformRequest
) -> None:
    """Learn from the directory what this message needs and the fake was not told."""
    if request.infno == "1101":
        data = request.input.get("data") or {}
        certno = str(data.get("certno") or data.get("mdtrt_cert_no") or "").upper()
        if certno and certno not in state.persons:
            person = await directory.person(certno)
            if person is not None:
                state.persons[certno] = person
    elif request.infno == "2204":
        codes = {str(line.get("med_list_codg")) for line in request.input.get("feedetail") or []}
        unknown = sorted(codes - set(state.catalogue))
        if unknown:
            state.catalogue.update(await directory.classes(unknown))
    elif request.infno in ("2206", "2207"):
        mdtrt_id = str((request.input.get("data") or {}).get("mdtrt_id"))
        visit = state.visits.get(mdtrt_id)
        if visit is not None and visit[1] not in state.terms:
            terms = await directory.terms(visit[1])
            if terms is not None:
                state.terms[visit[1]] = terms
        disease = state.visit_diseases.get(mdtrt_id)
        if visit is not None and disease is not None and (visit[1], disease) not in state.limits:
            limit = await directory.annual_limit(visit[1], disease)
            if limit is not None:
                state.limits[(visit[1], disease)] = limit


def create_fake_insurance_platform_app(directory: FakeDirectory | None = None) -> FastAPI:
    """The fake platform as an ASGI app (mounted under FAKE_PLATFORM_PATH in dev), told what
    it knows through its control endpoints and, when given one, its directory."""
    state = FakePlatformState()
    fake = FastAPI(title="Fake insurance platform (dev only)", openapi_url=None, docs_url=None)
    fake.state.platform = state

    @fake.post("/", response_model=None)
    async def call_service(request: Request) -> dict[str, Any] | Response:
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
        if directory is not None:
            await _consult(state, directory, envelope)
        if envelope.infno == "9102" and envelope.sign_no in state.sign_nos:
            # 9102 answers with the file itself.
            wanted = envelope.input.get("fsDownloadIn") or {}
            found = state.files.get(str(wanted.get("file_qury_no")))
            if found is None:
                return _refusal(state, "文件不存在或已过下载截止时间")
            return Response(found[1], media_type="application/octet-stream")
        answer = _transaction(state, envelope)
        if envelope.infno == state.behaviour.lose_answer_of:
            await asyncio.sleep(60)  # done, but the answer never arrives in time
        return answer

    @fake.post("/_control/persons", status_code=204)
    async def add_person(body: FakePerson) -> None:
        state.persons[body.certno.upper()] = body

    @fake.put("/_control/terms/{insutype}", status_code=204)
    async def set_terms(insutype: Literal["310", "390"], body: FakeTerms) -> None:
        state.terms[insutype] = body

    @fake.put("/_control/limits/{insutype}/{dise_codg}", status_code=204)
    async def set_limit(insutype: Literal["310", "390"], dise_codg: str, body: FakeLimit) -> None:
        state.limits[(insutype, dise_codg)] = body.annual_limit_fen

    @fake.post("/_control/catalogue", status_code=204)
    async def add_to_catalogue(body: list[FakeCatalogueEntry]) -> None:
        state.catalogue.update({entry.med_list_codg: entry.chrgitm_lv for entry in body})

    @fake.get("/_control/open")
    async def open_visits() -> dict[str, list[str]]:
        return {"visits": sorted(state.visits), "fee_batches": sorted(state.fees)}

    @fake.get("/_control/settlements")
    async def settlements() -> list[dict[str, Any]]:
        return [
            {"setl_id": s.setl_id, "msgid": s.msgid, "undone": s.undone, **s.split.amounts()}
            for s in state.settlements.values()
        ]

    @fake.put("/_control/behaviour", status_code=204)
    async def behave(body: FakeBehaviour) -> None:
        state.behaviour = body

    @fake.get("/_control/received")
    async def received() -> list[dict[str, Any]]:
        return state.received

    return fake
