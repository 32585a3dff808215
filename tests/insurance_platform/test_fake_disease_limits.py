"""The fake platform caps the fund by each disease's own annual limit (按病种限额), as the
service does: a person's two diseases do not share one limit per insurance type."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from app.insurance_platform.fake import create_fake_insurance_platform_app

CERTNO = "140302198001010011"
PSN_NO = f"14{CERTNO[-10:]}"
_serial = itertools.count(1)


@pytest.fixture
async def fake() -> Any:
    app = create_fake_insurance_platform_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as http:
        yield http


async def _call(http: httpx.AsyncClient, infno: str, data: dict[str, Any], sign_no: str) -> Any:
    envelope = {
        "infno": infno,
        "msgid": f"H14030200001{20261207120000 + next(_serial)}0001",
        "mdtrtarea_admvs": "140302",
        "insuplc_admdvs": "140302",
        "recer_sys_code": "MDTRT",
        "infver": "V1.0",
        "opter": "tester",
        "opter_name": "测试",
        "inf_time": "2026-12-07 20:00:00",
        "fixmedins_code": "H14030200001",
        "fixmedins_name": "测试医院",
        "sign_no": sign_no,
        "input": data,
    }
    answer = (await http.post("/", json=envelope)).json()
    assert answer["infcode"] == 0, answer["err_msg"]
    return answer["output"]


async def _settle(http: httpx.AsyncClient, sign_no: str, disease: str, price: str) -> Any:
    """One visit for `disease` with one fully covered line at `price` yuan, settled."""
    registered = await _call(http, "2201", {"data": {"psn_no": PSN_NO, "insutype": "310"}}, sign_no)
    mdtrt_id = registered["data"]["mdtrt_id"]
    visit = {"mdtrt_id": mdtrt_id, "psn_no": PSN_NO, "med_type": "14", "dise_codg": disease}
    await _call(http, "2203", {"mdtrtinfo": visit, "diseinfo": []}, sign_no)
    line = {
        "feedetl_sn": f"{mdtrt_id}01",
        "mdtrt_id": mdtrt_id,
        "chrg_bchno": f"B{mdtrt_id}",
        "med_list_codg": "XA10BAE054A001010100001",
        "cnt": 1,
        "pric": price,
        "det_item_fee_sumamt": price,
    }
    await _call(http, "2204", {"feedetail": [line]}, sign_no)
    settle = {"mdtrt_id": mdtrt_id, "psn_no": PSN_NO, "chrg_bchno": f"B{mdtrt_id}"}
    return (await _call(http, "2207", {"data": {**settle, "medfee_sumamt": price}}, sign_no))[
        "setlinfo"
    ]


async def test_each_disease_of_a_person_has_its_own_annual_limit(fake) -> None:
    sign_no = (await _call(fake, "9001", {}, ""))["signinoutb"]["sign_no"]
    person = {"certno": CERTNO, "insutype": "310", "insuplc_admdvs": "140302"}
    assert (await fake.post("/_control/persons", json=person)).status_code == 204
    terms = {"deductible_fen": 0, "reimbursement_bp": 10_000, "partial_prepay_bp": 0}
    assert (await fake.put("/_control/terms/310", json=terms)).status_code == 204
    for disease, limit in (("M01603", 30_000), ("M03902", 50_000)):
        put = await fake.put(f"/_control/limits/310/{disease}", json={"annual_limit_fen": limit})
        assert put.status_code == 204
    catalogue = [{"med_list_codg": "XA10BAE054A001010100001", "chrgitm_lv": "01"}]
    assert (await fake.post("/_control/catalogue", json=catalogue)).status_code == 204

    # 400.00 yuan of diabetes care: the fund stops at diabetes's 300.00.
    diabetes = await _settle(fake, sign_no, "M01603", "400.00")
    assert (diabetes["hifp_pay"], diabetes["overlmt_selfpay"]) == ("300.00", "100.00")
    # Hypertension's limit is untouched by that: 400.00 of it is paid in full.
    hypertension = await _settle(fake, sign_no, "M03902", "400.00")
    assert (hypertension["hifp_pay"], hypertension["overlmt_selfpay"]) == ("400.00", "0.00")
    # And diabetes stays spent.
    again = await _settle(fake, sign_no, "M01603", "10.00")
    assert (again["hifp_pay"], again["overlmt_selfpay"]) == ("0.00", "10.00")


async def test_a_disease_without_a_limit_is_refused(fake) -> None:
    sign_no = (await _call(fake, "9001", {}, ""))["signinoutb"]["sign_no"]
    person = {"certno": CERTNO, "insutype": "310", "insuplc_admdvs": "140302"}
    await fake.post("/_control/persons", json=person)
    terms = {"deductible_fen": 0, "reimbursement_bp": 10_000, "partial_prepay_bp": 0}
    await fake.put("/_control/terms/310", json=terms)
    with pytest.raises(AssertionError, match="年度限额"):
        await _settle(fake, sign_no, "M04600", "10.00")
