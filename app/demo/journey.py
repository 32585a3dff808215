"""The whole loop of the pilot, driven over HTTP and websockets exactly as the clients drive it.

A new patient (a fresh WeChat openid each run) signs in through the mini-program flow, binds a CGM
and a blood-pressure monitor and uploads two weeks of readings, applies for the catalogue disease
at the pilot hospital and is approved, starts online care and is given a doctor by the assignment
engine; patient and doctor chat live; the doctor reviews the CGM summary and the AGP chart and
prescribes metformin; the hospital pharmacist approves; the patient picks a store and sees the
pre-settlement; the store picks and dispatches; the courier hands over with the patient's code;
the patient pays the personal share with WeChat Pay; at month end the bureau's statement for the
hospital lists the settlement.

Run it against the demo server (`bash scripts/serve-demo.sh` in another terminal):

    python -m app.demo.journey --base-url http://127.0.0.1:8000

It needs the demo reference data and staff (`python -m app.cli seed-demo`) and, for sign-in and
payment, the development fakes the demo server serves (/_dev/wechat, /_dev/wechatpay). While the
month is still open it shows what the bureau sees and prints the command that generates the
month's statement once the month has ended (`--close-month YYYY-MM --settlement ID`).
It exits non-zero with the reason at the first step that fails.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import secrets
import sys
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import httpx
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from pylopdf_fonts_zh_cn import sans_path

from app.demo import data
from app.demo.live import (
    Actor,
    JourneyFailed,
    LiveSocket,
    local,
    one,
    problem,
    sign_in_staff,
    sign_in_wechat,
)
from app.demo.phone import DemoPhone
from app.demo.reading import demo_series
from app.insurance.statements import month_of, month_window
from app.insurance_platform.fake import FAKE_PLATFORM_PATH
from app.kit.clock import SHANGHAI, utcnow
from app.kit.money import fen_to_yuan as yuan

DISEASE_CODE = "M01603"  # diabetes with complications (national M01600), admitted online
# She has known of her diabetes since 2014 (病程 ~12 years): the assignment weighs the course.
DIAGNOSED_YEAR = 2014
# Demo staff (app/demo/data.py): the pilot hospital's enrollment reviewer and pharmacist, the
# staff of the store that delivers to the patient, and the bureau.
ENROLLMENT_REVIEWER, HOSPITAL_PHARMACIST = "dr.zhang", "rx.qian"
STORE_PHARMACIST, STORE_COURIER, BUREAU = "rx.sun", "courier.wu", "bureau.wang"
READING_BATCH = 2000  # READING_BATCH_MAX_ITEMS
# The journey's patient is insured in Yangquan (参保地) with this much in her personal account.
INSURED_AREA = "140300"
JOURNEY_ACCOUNT_FEN = 50_000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

STEPS: tuple[tuple[str, str], ...] = (
    ("sign_in", "患者在小程序中用微信登录并完善资料 / patient signs in with WeChat"),
    ("devices", "绑定动态血糖仪和血压计 / binds a CGM and a BP monitor"),
    ("readings", "上传两周读数 / uploads two weeks of readings"),
    ("application", "在定点医院申请门诊慢特病认定 / applies for enrollment"),
    ("approval", "认定医生审核通过 / the reviewer approves"),
    ("assignment", "开通在线诊疗，系统分配医生 / online care starts, a doctor is assigned"),
    ("chat", "医患实时聊天 / patient and doctor chat live"),
    ("agp", "医生查看动态血糖报告和 AGP 图 / the doctor reviews the AGP"),
    ("prescription", "医生开具并签名电子处方 / the doctor prescribes and signs"),
    ("review", "医院药师审方通过 / the hospital pharmacist approves"),
    ("order", "患者选店下单，查看预结算 / the patient orders and sees the pre-settlement"),
    ("dispatch", "门店接单、扫码拣货、交配送员 / the store picks and dispatches"),
    ("handover", "配送员凭交接码送达 / the courier hands over with the code"),
    ("payment", "患者微信支付个人自付部分 / the patient pays the personal share"),
    ("month_close", "月结：医保局生成医院月度结算单 / month close: the bureau's statement"),
)


@dataclass
class Narrator:
    """Prints the account of the journey and keeps the steps that completed."""

    out: Callable[[str], None] = print
    completed: list[str] = field(default_factory=list)
    _current: str | None = None

    def step(self, key: str) -> None:
        """Announce the next step (the previous one completed)."""
        self._finish()
        number, title = next((i, t) for i, (k, t) in enumerate(STEPS, 1) if k == key)
        self._current = key
        self.out(f"\n[{number:>2}/{len(STEPS)}] {title}")

    @property
    def current_title(self) -> str:
        """The step under way (for failure messages)."""
        return dict(STEPS).get(self._current or "", "before the first step")

    def say(self, text: str) -> None:
        """One line of what happened in the current step."""
        self.out(f"        {text}")

    def _finish(self) -> None:
        if self._current is not None:
            self.completed.append(self._current)
            self._current = None

    def done(self) -> None:
        """The last step completed."""
        self._finish()


@dataclass
class JourneyResult:
    """What a run did: the steps completed and what the month close needs."""

    completed: list[str]
    settlement_id: str
    institution_id: str
    month: str
    statement: dict[str, Any] | None


def resident_id(district_code: str, born: date) -> str:
    """A fictitious 18-character resident ID with a valid check character (GB 11643)."""
    body = f"{district_code}{born:%Y%m%d}{secrets.randbelow(1000):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def discharge_summary_pdf(name: str) -> bytes:
    """A one-page discharge summary, the medical record the patient attaches (PDF)."""
    font = FontProperties(fname=str(sans_path()))
    figure = Figure(figsize=(8.27, 5.8))
    lines = (
        "阳泉市第一人民医院  出院小结",
        f"姓名：{name}    科室：内分泌科",
        "诊断：2型糖尿病伴周围神经病变",
        "糖化血红蛋白 8.1%，空腹血糖 9.6 mmol/L",
        "出院医嘱：二甲双胍 0.5g 每日两次，定期复诊，佩戴动态血糖仪",
    )
    for row, text in enumerate(lines):
        figure.text(0.08, 0.88 - row * 0.12, text, fontproperties=font, fontsize=16 - 2 * bool(row))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="pdf")
    return buffer.getvalue()


async def _verify_identity(
    clerk: Actor, patient_id: str, identity: dict[str, str], say: Narrator
) -> Any:
    """A clerk attests her insured identity from the insurance documents they checked; where
    the institution is connected to the insurance platform (409 `identity_verified_by_platform`)
    the platform's person query (1101) says it instead. The fake platform served in development
    is first told the person, as the real platform already knows every insured person."""
    attested = await clerk.fetch(
        f"/api/v1/identity/patients/{patient_id}/verifications",
        method="POST",
        json={**identity, "personal_account": True,
              "personal_account_balance_fen": JOURNEY_ACCOUNT_FEN, "reference": "社保卡核验"},
        expect=(201, 409),
    )  # fmt: skip
    if attested.status_code == 201:
        return attested.json()
    if attested.json().get("code") != "identity_verified_by_platform":
        raise JourneyFailed(f"the identity verification answered 409 ({problem(attested)})")
    person = {
        "certno": identity["national_id"],
        "insutype": identity["insurance_type"],
        "insuplc_admdvs": identity["insured_area"],
        "balc": yuan(JOURNEY_ACCOUNT_FEN),
    }
    told = await clerk.http.post(f"{FAKE_PLATFORM_PATH}/_control/persons", json=person)
    if told.status_code not in (204, 404):  # 404: a real platform, which knows her already
        raise JourneyFailed(f"the fake insurance platform answered {told.status_code}")
    say.say("本机构已接入医保信息平台：参保身份由平台人员信息查询（1101）核实")
    return await clerk.post(
        f"/api/v1/identity/patients/{patient_id}/platform-verifications",
        json={"national_id": identity["national_id"], "insured_area": identity["insured_area"]},
        expect=201,
    )


async def run_journey(
    base_url: str,
    staff_base_url: str | None = None,
    *,
    out: Callable[[str], None] = print,
    http_timeout: float = 30.0,
) -> JourneyResult:
    """Drive the whole loop; the patient's apps use `base_url`, staff apps `staff_base_url`."""
    say = Narrator(out)
    try:
        return await _drive(say, base_url, staff_base_url or base_url, http_timeout)
    except JourneyFailed as exc:
        raise JourneyFailed(f"{say.current_title}: {exc}") from exc


async def _drive(
    say: Narrator, base_url: str, staff_url: str, http_timeout: float
) -> JourneyResult:
    openid = f"journey-{uuid.uuid4().hex[:12]}"
    async with AsyncExitStack() as opened:
        patient_http = httpx.AsyncClient(base_url=base_url, timeout=http_timeout)
        staff_http = httpx.AsyncClient(base_url=staff_url, timeout=http_timeout)
        for client in (patient_http, staff_http):
            await opened.enter_async_context(client)
        # The mini-program: wx.login() gives a code, the server exchanges it with WeChat.
        say.step("sign_in")
        patient = await sign_in_wechat(patient_http, openid)
        patient_id = patient.account["patient_id"]
        born = date(1961, 4, 18)
        # wx.request has no PATCH: the mini-program completes the profile with PUT.
        profile = await patient.put(
            "/api/v1/patients/me",
            json={
                "name": "赵春燕",
                "gender": "female",
                "birth_date": born.isoformat(),
                "phone": f"139{secrets.randbelow(10**8):08d}",
                "district_code": "140302",
                "address": "阳泉市城区桃北西街9号院2号楼1单元302",
            },
        )
        # Her insured identity is declared, not set: the bureau verifies it before any
        # settlement, and the two must agree.
        identity = {
            "national_id": resident_id("140302", born),
            "insurance_type": "310",
            "insured_area": INSURED_AREA,
        }
        await patient.post(
            "/api/v1/patients/me/identity/declarations",
            json=identity,
            headers={"Idempotency-Key": f"declare-{openid}"},
            expect=202,
        )
        say.say(f"wx.login openid {openid} -> 新患者 {profile['name']}（申报职工医保 310，城区）")
        say.say(f"patient_id {patient_id}")
        # wx.requestSubscribeMessage: she allows one message of each template; the mini-program
        # reports her answers, and each notification below uses one up.
        templates = [
            g["template_id"] for g in await patient.every("/api/v1/me/subscription-grants")
        ]
        await patient.post(
            "/api/v1/me/subscription-grants",
            json={"results": dict.fromkeys(templates, "accept")},
            headers={"Idempotency-Key": f"subscribe-{openid}"},
        )
        say.say(f"wx.requestSubscribeMessage: 允许 {len(templates)} 个订阅消息模板各一次")

        say.step("devices")
        cgm = await patient.post(
            "/api/v1/devices",
            json={"kind": "cgm", "model": "Dexcom G7", "serial": f"G7-{uuid.uuid4().hex[:10]}",
                  "unit": "mmol/L", "sample_interval_seconds": 300},
            expect=201,
        )  # fmt: skip
        bp = await patient.post(
            "/api/v1/devices",
            json={"kind": "bp", "model": "Omron J760", "serial": f"J760-{uuid.uuid4().hex[:10]}"},
            expect=201,
        )
        now = utcnow()
        series = demo_series(now, SHANGHAI)
        sensor = await patient.post(
            f"/api/v1/devices/{cgm['id']}/sensor-sessions",
            json={"started_at": series.cgm[0][0].isoformat(), "expected_days": 15},
            expect=201,
        )
        say.say(
            f"动态血糖仪 Dexcom G7（{cgm['serial']}），传感器自 {local(sensor['started_at'])} 起"
        )
        say.say(f"血压计 Omron J760（{bp['serial']}）")

        say.step("readings")
        items: list[dict[str, Any]] = [
            {"kind": "cgm", "device_id": cgm["id"], "measured_at": at.isoformat(),
             "value": mmol, "unit": "mmol/L"}
            for at, mmol in series.cgm
        ]  # fmt: skip
        items += [
            {"kind": "bp", "device_id": bp["id"], "measured_at": at.isoformat(),
             "systolic": systolic, "diastolic": diastolic, "pulse": pulse}
            for at, systolic, diastolic, pulse in series.bp
        ]  # fmt: skip
        accepted = 0
        for start in range(0, len(items), READING_BATCH):
            report = await patient.post(
                "/api/v1/readings", json={"items": items[start : start + READING_BATCH]}
            )
            if report["rejected"]:
                reasons = {i["reason"] for i in report["items"] if i["status"] == "rejected"}
                raise JourneyFailed(f"readings rejected: {sorted(reasons)}")
            accepted += report["accepted"]
        say.say(
            f"{len(series.cgm)} 个血糖点（每 5 分钟）+ {len(series.bp)} 次血压，"
            f"{local(series.cgm[0][0])} 至 {local(series.cgm[-1][0])}：全部接收 {accepted} 条"
        )

        say.step("application")
        hospital = one(
            await patient.every("/api/v1/institutions"),
            lambda i: i["code"] == data.PILOT_INSTITUTION_CODE,
            "pilot hospital",
        )
        application = await patient.post(
            "/api/v1/enrollment/applications",
            json={"disease_code": DISEASE_CODE, "institution_id": hospital["id"],
                  "statement": "2型糖尿病伴周围神经病变，申请在线复诊",
                  "diagnosed_year": DIAGNOSED_YEAR},
            headers={"Idempotency-Key": f"apply-{openid}"},
            expect=201,
        )  # fmt: skip
        record = await patient.post(
            f"/api/v1/enrollment/applications/{application['id']}/records",
            files={"file": ("出院小结.pdf", discharge_summary_pdf(profile["name"]))},
            expect=201,
        )
        submitted = await patient.post(
            f"/api/v1/enrollment/applications/{application['id']}/submit"
        )
        say.say(
            f"{hospital['name_zh']}：{submitted['disease_name_zh']}（{DISEASE_CODE}），"
            f"附病历 {record['filename']}（{record['content_type']}，{record['size_bytes']} 字节）"
        )

        say.step("approval")
        reviewer = await sign_in_staff(staff_http, ENROLLMENT_REVIEWER)
        pending = await reviewer.every(
            "/api/v1/enrollment/applications", params={"status": "pending"}
        )
        if application["id"] not in {a["id"] for a in pending}:
            raise JourneyFailed("the application is not in the reviewer's pending queue")
        decided = await reviewer.post(
            f"/api/v1/enrollment/applications/{application['id']}/decision",
            json={"approve": True},
        )
        entitlement = decided["entitlement"]
        say.say(
            f"{reviewer.account['display_name']}医生批准，"
            f"待遇资格有效期至 {entitlement['valid_until']}"
        )
        # The bureau checks her insured identity in its own records (audited); the verified
        # identity is bound to the new entitlement and compared with her declaration.
        clerk = await sign_in_staff(staff_http, BUREAU)
        verified = await _verify_identity(clerk, patient_id, identity, say)
        say.say(
            f"{clerk.account['display_name']}核实参保身份：职工医保 {verified['insurance_type']}，"
            f"个人账户余额 {yuan(verified['personal_account_available_fen'])} 元"
        )

        say.step("assignment")
        assigned = await patient.post(
            "/api/v1/online-care/start", json={"institution_id": hospital["id"]}
        )
        doctor_id = assigned["relationship"]["doctor_id"]
        doctor, doctor_username = await _doctor_app(
            staff_http, reviewer, doctor_id, hospital["code"]
        )
        profile_of_doctor = await doctor.get(f"/api/v1/doctors/{doctor_id}")
        decision = assigned["decision"]
        say.say(
            f"分配给 {profile_of_doctor['name']} {profile_of_doctor['title_zh']}"
            f"（{profile_of_doctor['department_zh']}）：从 {decision['candidates_considered']} "
            f"位医生中得分最高（{decision['total_score']:.2f}）"
        )

        say.step("chat")
        conversation = await patient.put(
            f"/api/v1/chat/care-conversations/{assigned['relationship']['id']}"
        )
        # The apps keep their sockets open from here on: the patient's mini-program on one
        # process, the doctor's app on another (events cross processes through Redis).
        patient_app = await opened.enter_async_context(LiveSocket.open(base_url, patient.token))
        doctor_app = await opened.enter_async_context(LiveSocket.open(staff_url, doctor.token))
        presence = await doctor_app.request({"type": "presence.update", "status": "online"})
        say.say(f"医生端在线（presence 至 {local(presence['expires_at'])}）")
        question = "医生您好，我这两周餐后血糖偏高，夜里有时心慌出汗，药要不要调整？"
        answer = "您好，我看了您的动态血糖，夜间有低血糖，先把二甲双胍调整为每次一片、每日两次。"
        heard = await _chat(patient_app, doctor_app, conversation["id"], question)
        say.say(f"患者 {local(heard['created_at'])}：{question}")
        replied = await _chat(doctor_app, patient_app, conversation["id"], answer)
        say.say(f"医生 {local(replied['created_at'])}：{answer}")

        say.step("agp")
        summary = await doctor.get(f"/api/v1/patients/{patient_id}/cgm-summary")
        metrics = summary["metrics"]
        bands = metrics["time_in_ranges"]
        say.say(
            f"{metrics['days_with_data']} 天、{metrics['readings']} 个读数（佩戴 "
            f"{metrics['active_percent']:.0f}%）：TIR {bands['in_range']:.0f}%，"
            f"TBR {bands['low'] + bands['very_low']:.1f}%，TAR "
            f"{bands['high'] + bands['very_high']:.0f}%，均值 {metrics['mean_mmol_l']:.1f} "
            f"mmol/L，GMI {metrics['gmi_percent']:.1f}%，CV {metrics['cv_percent']:.0f}%"
        )
        chart = await doctor.fetch(f"/api/v1/patients/{patient_id}/charts/agp.png")
        if chart.headers.get("content-type") != "image/png" or not chart.content.startswith(
            PNG_MAGIC
        ):
            raise JourneyFailed("the AGP chart is not a PNG image")
        say.say(f"AGP 图：PNG，{len(chart.content)} 字节")

        say.step("prescription")
        disease = one(
            await doctor.every("/api/v1/chronic-diseases"),
            lambda d: d["code"] == DISEASE_CODE,
            f"disease {DISEASE_CODE}",
        )
        metformin = one(
            await doctor.every(f"/api/v1/formulary/{disease['id']}"),
            lambda f: f["national_code"] == data.METFORMIN_CODE,
            "metformin on the formulary",
        )
        draft = await doctor.post(
            "/api/v1/prescriptions",
            json={
                "patient_id": patient_id,
                "disease_id": disease["id"],
                "diagnosis_zh": "2型糖尿病伴周围神经病变，复诊",
                "items": [{"drug_id": metformin["drug_id"], "dose": "1",
                           "frequency": "bid", "days_supply": 7}],
            },
            expect=201,
        )  # fmt: skip
        # The doctor's explicit act: the app fetches the exact bytes to sign, the phone signs
        # them with the key only it holds, and the service verifies and seals.
        payload = await doctor.get(f"/api/v1/prescriptions/{draft['id']}/signing-payload")
        phone = DemoPhone(doctor_username)
        if payload["key_fingerprint"] != phone.fingerprint:
            raise JourneyFailed(
                f"the service asks for a signature with key {payload['key_fingerprint'][:16]}…, "
                f"not {doctor_username}'s phone key (run seed-demo)"
            )
        signed = await doctor.post(
            f"/api/v1/prescriptions/{draft['id']}/sign", json=phone.signature_for(payload)
        )
        line = signed["items"][0]
        say.say(
            f"{line['drug_name_zh']} {metformin['strength']} 每次 {line['dose_quantity']}"
            f"{line['dose_unit']}、每日两次、{line['days_supply']} 天（{line['packs']} 盒）"
        )
        say.say(
            f"医生手机端 Ed25519 签名 {signed['signature']['signature'][:16]}…（设备密钥指纹 "
            f"{phone.fingerprint[:16]}…，服务端只持有公钥），状态 {signed['status']}"
        )

        say.step("review")
        pharmacist = await sign_in_staff(staff_http, HOSPITAL_PHARMACIST)
        queue = await pharmacist.every("/api/v1/prescriptions", params={"status": "pending_review"})
        if draft["id"] not in {p["id"] for p in queue}:
            raise JourneyFailed("the prescription is not in the pharmacist's review queue")
        approved = await pharmacist.post(f"/api/v1/prescriptions/{draft['id']}/approve")
        say.say(f"{pharmacist.account['display_name']}药师审核通过，处方状态 {approved['status']}")

        say.step("order")
        # The store's dashboard follows its orders live (from the staff's process).
        store_staff = await sign_in_staff(staff_http, STORE_PHARMACIST)
        dashboard = await opened.enter_async_context(LiveSocket.open(staff_url, store_staff.token))
        proposal_url = f"/api/v1/prescriptions/{draft['id']}/store-proposals"
        district = (await patient.get(proposal_url, params={"limit": 1}))["district_name_zh"]
        proposals = await patient.every(proposal_url)
        store = next(
            (s for s in proposals if s["store_id"] == store_staff.account["store_id"]),
            None,
        )
        if store is None:
            raise JourneyFailed(f"{STORE_PHARMACIST}'s store is not among the proposals")
        order = await patient.post(
            "/api/v1/orders",
            json={"prescription_id": draft["id"], "store_id": store["store_id"],
                  "fulfilment": "delivery"},
            headers={"Idempotency-Key": f"order-{draft['id']}"},
            expect=201,
        )  # fmt: skip
        quote = await patient.get(f"/api/v1/insurance/orders/{order['id']}/quote")
        say.say(f"可选 {len(proposals)} 家门店（{district}），选择 {store['name_zh']}，送货上门")
        board = await dashboard.expect("order.updated", lambda f: f["order_id"] == order["id"])
        say.say(
            f"门店看板实时收到新订单（{board['status']}），"
            f"药师 {store_staff.account['display_name']} 处理"
        )
        say.say(
            f"预结算：总额 {yuan(quote['total_fen'])} 元 = 医保基金 {yuan(quote['fund_fen'])}"
            f" 元 + 个人负担 {yuan(quote['personal_fen'])} 元（其中计入起付线 "
            f"{yuan(quote['deductible_fen'])} 元）"
        )

        say.step("dispatch")
        orders = f"/api/v1/orders/{order['id']}"
        await store_staff.post(f"{orders}/accept", json={"place": store["name_zh"]})
        boxes = [
            {"drug_id": line["drug_id"], "code": f"{secrets.randbelow(10**20):020d}"}
            for line in order["lines"]
            for _ in range(line["packs"])
        ]
        scan = await store_staff.post(f"{orders}/scans", json={"boxes": boxes})
        if not scan["complete"]:
            raise JourneyFailed(f"scanning incomplete: {scan['items']}")
        await store_staff.post(f"{orders}/pick")
        couriers = await store_staff.every("/api/v1/pharmacy/couriers")
        courier = await sign_in_staff(staff_http, STORE_COURIER)
        if courier.account["id"] not in {c["account_id"] for c in couriers}:
            raise JourneyFailed(f"{STORE_COURIER} is not a courier of the store")
        dispatched = await store_staff.post(
            f"{orders}/dispatch",
            json={"courier_account_id": courier.account["id"], "lat": 37.8612,
                  "lng": 113.5695, "place": store["name_zh"]},
        )  # fmt: skip
        say.say(
            f"追溯码 {len(boxes)} 盒已扫，拣货完成，交配送员 "
            f"{dispatched['courier']['display_name']}"
        )

        say.step("handover")
        moved = await courier.post(
            f"{orders}/location",
            json={"lat": 37.8570, "lng": 113.5830},
            headers={"Idempotency-Key": f"pos-{order['id']}-1"},
        )
        pushed = await patient_app.expect(
            "delivery.location", lambda f: f.get("order_id") == order["id"]
        )
        say.say(f"患者实时看到配送员位置，预计 {local(pushed['eta_at'] or moved['eta_at'])} 送达")
        code = (await patient.get(orders))["handover_code"]
        if not code:
            raise JourneyFailed("the patient sees no hand-over code")
        delivered = await courier.post(
            f"{orders}/handover", json={"code": code, "lat": 37.8566, "lng": 113.5871}
        )
        completed = await courier.post(f"{orders}/complete")
        settlements = await patient.every("/api/v1/insurance/settlements")
        settlement = next((s for s in settlements if s["order_id"] == order["id"]), None)
        if settlement is None:
            raise JourneyFailed("hand-over settled nothing")
        say.say(
            f"患者出示交接码 {code}，{local(delivered['history'][-1]['at'])} 送达，"
            f"订单 {completed['status']}"
        )
        say.say(
            f"医保结算：基金 {yuan(settlement['fund_fen'])} 元，个人现金 "
            f"{yuan(settlement['cash_fen'])} 元（结算 {settlement['id']}）"
        )

        say.step("payment")
        settlement_url = f"/api/v1/payments/settlements/{settlement['id']}"
        if settlement["cash_fen"] > 0:
            started = await patient.post(f"{settlement_url}/online", json={"method": "wechat"})
            # wx.requestPayment(client_params): WeChat (the dev fake) takes the money and posts
            # its signed notification to our notify endpoint.
            paid = await _request_payment(patient_http, started["client_params"])
            bill = await patient.get(f"{settlement_url}/bill")
            if bill["outstanding_fen"] != 0:
                raise JourneyFailed(
                    f"still {yuan(bill['outstanding_fen'])} yuan outstanding after WeChat Pay "
                    f"(notification answered {paid.get('notification_status')})"
                )
            receipt = bill["payments"][-1]
            say.say(
                f"微信支付 {yuan(receipt['amount_fen'])} 元，{local(receipt['paid_at'])}，"
                f"交易号 {receipt['provider_transaction_id']}，收据 {receipt['receipt_no']}"
            )
        else:
            say.say("个人现金部分为 0，无需支付")

        say.step("month_close")
        month = month_of(datetime.fromisoformat(settlement["settled_at"]))
        statement = await close_month(staff_http, month, settlement["id"], say)
        if statement is not None:
            say.done()
        return JourneyResult(
            completed=say.completed,
            settlement_id=settlement["id"],
            institution_id=hospital["id"],
            month=month,
            statement=statement,
        )


async def _request_payment(
    http: httpx.AsyncClient, client_params: dict[str, str]
) -> dict[str, Any]:
    """wx.requestPayment in the dev fake WeChat Pay: the patient confirms and pays."""
    response = await http.post("/_dev/wechatpay/request-payment", json=client_params)
    if response.status_code != 200:
        raise JourneyFailed(
            f"WeChat Pay (dev fake) answered {response.status_code}: {problem(response)}"
        )
    paid: dict[str, Any] = response.json()
    return paid


async def _doctor_app(
    http: httpx.AsyncClient, reviewer: Actor, doctor_id: str, institution_code: str
) -> tuple[Actor, str]:
    """The assigned doctor's app, signed in, and their username (which names their phone):
    whichever demo doctor of the hospital it is."""
    for item in data.DOCTORS:
        if item.institution_code == institution_code:
            actor = (
                reviewer
                if item.username == ENROLLMENT_REVIEWER
                else await sign_in_staff(http, item.username)
            )
            if actor.account["doctor_id"] == doctor_id:
                return actor, item.username
    raise JourneyFailed(f"doctor {doctor_id} is not one of the demo doctors")


async def _chat(
    sender: LiveSocket, receiver: LiveSocket, conversation_id: str, text: str
) -> dict[str, Any]:
    """Send over one socket; the message as the other side receives it live."""
    client_msg_id = uuid.uuid4().hex
    ack = await sender.request(
        {"type": "chat.send", "conversation_id": conversation_id,
         "client_msg_id": client_msg_id, "kind": "text", "text": text}
    )  # fmt: skip
    if ack.get("type") != "chat.ack":
        raise JourneyFailed(f"chat.send refused: {ack}")
    frame = await receiver.expect(
        "chat.message", lambda f: f["message"]["client_msg_id"] == client_msg_id
    )
    message: dict[str, Any] = frame["message"]
    if message["body"] != {"text": text}:
        raise JourneyFailed(f"the message arrived changed: {message['body']}")
    return message


async def close_month(
    http: httpx.AsyncClient, month: str, settlement_id: str, say: Narrator
) -> dict[str, Any] | None:
    """The bureau generates the pilot hospital's statement of `month` and finds the settlement
    on it; None (with what the bureau sees and when to come back) while the month is open."""
    bureau = await sign_in_staff(http, BUREAU)
    hospital = one(
        await bureau.every("/api/v1/institutions"),
        lambda i: i["code"] == data.PILOT_INSTITUTION_CODE,
        "pilot hospital",
    )
    response = await bureau.fetch(
        "/api/v1/insurance/statements",
        method="POST",
        json={"institution_id": hospital["id"], "month": month},
        expect=(200, 201, 409),
    )
    body = response.json()
    if response.status_code == 409:
        if body.get("code") != "statement_month_open":
            raise JourneyFailed(f"statement refused: {problem(response)}")
        _, opens = month_window(month)
        say.say(f"医保局生成 {month} 结算单：{body['detail']}（{body['code']}）")
        say.say(f"结算 {settlement_id} 已记账，{month} 月结时列入{hospital['name_zh']}月度结算单")
        say.say(f"{opens:%Y-%m-%d %H:%M}（北京时间）月份结束后再运行：")
        say.say(
            f"python -m app.demo.journey --base-url {http.base_url} "
            f"--close-month {month} --settlement {settlement_id}"
        )
        return None
    detail: dict[str, Any] = await bureau.get(f"/api/v1/insurance/statements/{body['id']}")
    if settlement_id not in {line["id"] for line in detail["lines"]}:
        raise JourneyFailed(f"the {month} statement does not list settlement {settlement_id}")
    say.say(
        f"{hospital['name_zh']} {month} 结算单（{detail['status']}）：{detail['settlement_count']} "
        f"笔结算 / {detail['reversal_count']} 笔冲销，总额 {yuan(detail['total_fen'])} 元，"
        f"医保基金 {yuan(detail['fund_fen'])} 元，个人现金 {yuan(detail['cash_fen'])} 元"
    )
    say.say(f"结算单列有本次结算 {settlement_id}")
    return detail


async def _close_month_only(base_url: str, month: str, settlement_id: str) -> int:
    say = Narrator()
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as http:
        say.step("month_close")
        return 0 if await close_month(http, month, settlement_id, say) else 2


def main(argv: list[str] | None = None) -> int:
    """Command line: the whole journey, or only its month-close step."""
    parser = argparse.ArgumentParser(
        prog="python -m app.demo.journey",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="the service")
    parser.add_argument(
        "--staff-base-url", help="where the staff apps connect (default: --base-url)"
    )
    parser.add_argument(
        "--close-month", metavar="YYYY-MM", help="only the month-close step (exit 2: still open)"
    )
    parser.add_argument("--settlement", help="with --close-month: the settlement to find")
    args = parser.parse_args(argv)
    try:
        if args.close_month:
            if not args.settlement:
                parser.error("--close-month needs --settlement")
            return asyncio.run(_close_month_only(args.base_url, args.close_month, args.settlement))
        result = asyncio.run(run_journey(args.base_url, args.staff_base_url))
    except JourneyFailed as exc:
        print(f"\n✗ 失败 FAILED: {exc}", file=sys.stderr)
        return 1
    except httpx.TransportError as exc:
        print(f"\n✗ 无法连接 {args.base_url}: {exc}", file=sys.stderr)
        return 1
    pending = "" if result.statement else "（月结待该月结束）"
    print(f"\n✓ 完成 {len(result.completed)}/{len(STEPS)} 步{pending}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
