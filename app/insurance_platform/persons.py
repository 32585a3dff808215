"""Transaction 1101 (人员信息获取) as the authoritative insured-identity source.

Input node `data`: mdtrt_cert_type (02 居民身份证), mdtrt_cert_no, card_sn, begntime,
psn_cert_type (01 居民身份证), certno, psn_name. Output: `baseinfo` (psn_no, certno, psn_name,
...) and `insuinfo`, one entry per insurance: balc (account balance, yuan), insutype (310
employee basic, 390 urban-rural resident basic), psn_type, psn_insu_stas (1 正常参保),
psn_insu_date, paus_insu_date, cvlserv_flag, insuplc_admdvs, emp_name. (Field names as the
specification's 1101 tables, cross-checked with public HIS models of `Inf1101RspInsuInfo`; the
specification's own example answers one `insuinfo` object whose area is `insu_admdvs`, and
both shapes are read.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.identity.sources import InsuranceType, InsuredIdentitySource, PersonRecord
from app.insurance_platform.amounts import yuan_to_fen
from app.insurance_platform.client import InsurancePlatform, PlatformUnreachable
from app.insurance_platform.envelope import interface_time
from app.kit.clock import utcnow

PERSON_QUERY = "1101"
RESIDENT_ID_CARD = "02"  # 就诊凭证类型: 居民身份证
RESIDENT_ID = "01"  # 人员证件类型: 居民身份证(户口簿)
INSURED_NORMALLY = "1"  # 人员参保状态: 正常参保
# The insurances chronic-disease outpatient benefits are paid from, the employee one first
# (it also has the personal account) when a person has both.
INSURANCE_TYPES: tuple[InsuranceType, ...] = ("310", "390")


def person_record(output: dict[str, Any], insured_area: str, msgid: str) -> PersonRecord | None:
    """The insured person a 1101 output describes in `insured_area`, or None when it names no
    current 310/390 insurance there."""
    base = output.get("baseinfo") or {}
    certno = str(base.get("certno") or "").strip().upper()
    if not certno:
        return None
    entries = output.get("insuinfo") or []
    if isinstance(entries, dict):  # the specification's own example gives a single object
        entries = [entries]
    found = {
        str(entry.get("insutype")): entry
        for entry in entries
        if str(entry.get("insuplc_admdvs") or entry.get("insu_admdvs")) == insured_area
        # Older versions of the interface leave the status out: absent means insured.
        and str(entry.get("psn_insu_stas") or INSURED_NORMALLY) == INSURED_NORMALLY
    }
    for insurance_type in INSURANCE_TYPES:
        entry = found.get(insurance_type)
        if entry is None:
            continue
        employee = insurance_type == "310"
        return PersonRecord(
            national_id=certno,
            insurance_type=insurance_type,
            insured_area=insured_area,
            personal_account=employee,
            personal_account_balance_fen=max(0, yuan_to_fen(entry.get("balc") or 0))
            if employee
            else 0,
            source="insurer_platform",
            reference=msgid,
        )
    return None


@dataclass(frozen=True)
class PlatformPerson:
    """A 1101 answer read: the insured record (None: no current insurance in the area) and the
    person's number on the platform (人员编号), which every later transaction names."""

    record: PersonRecord | None
    psn_no: str


async def query_person(
    platform: InsurancePlatform, national_id: str, insured_area: str, subject: str | None = None
) -> PlatformPerson:
    """Transaction 1101 for a resident ID number in `insured_area`."""
    number = national_id.strip().upper()
    result = await platform.call(
        PERSON_QUERY,
        {
            "data": {
                "mdtrt_cert_type": RESIDENT_ID_CARD,
                "mdtrt_cert_no": number,
                "card_sn": "",
                "begntime": interface_time(utcnow()),
                "psn_cert_type": RESIDENT_ID,
                "certno": number,
                "psn_name": "",
            }
        },
        insured_area=insured_area,
        subject=subject,
    )
    record = person_record(result.output, insured_area, result.msgid)
    if record is not None and record.national_id != number:
        # An answer about someone else is no answer about this person.
        raise PlatformUnreachable()
    psn_no = str((result.output.get("baseinfo") or {}).get("psn_no") or "")
    return PlatformPerson(record=record, psn_no=psn_no)


class PlatformPersonSource(InsuredIdentitySource):
    """The insured-identity source answered by the platform's 1101."""

    def __init__(self, platform: InsurancePlatform) -> None:
        self._platform = platform

    async def look_up(self, national_id: str, insured_area: str) -> PersonRecord | None:
        return (await query_person(self._platform, national_id, insured_area)).record
