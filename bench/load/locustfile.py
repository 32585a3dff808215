"""The city's day under load: patients' phones uploading CGM readings every five minutes, some
of them chatting with their doctor, doctors working their panels, charts, alerts and chats, and
pharmacists working their stores' order boards. Run by bench/load/run.sh, or directly:

    LOAD_CITY=bench/load/city.json LOAD_WECHAT_BASE=http://127.0.0.1:8401 \\
    .venv/bin/locust -f bench/load/locustfile.py --host http://127.0.0.1:8400 --headless ...

Environment:
- LOAD_CITY: the JSON file written by bench/load/setup.py (default: city.json next to this file).
- LOAD_WECHAT_BASE: the (fake) WeChat the phones get their login codes from.
- LOAD_DURATION: seconds to measure once everyone has signed in, then stop (0: until locust's
  own --run-time). Statistics are reset at that moment, so sign-in storms are not in them.
- LOAD_TIME_SCALE: compress time by this factor (default 1 = real time): every pause, and
  the five-minute upload interval, is divided by it, so each simulated person acts that many
  times as often and the offered load is that of a city that many times larger. A compressed
  upload still carries its device's last five minutes, so consecutive batches overlap and the
  overlap comes back as duplicates (as when a phone retries).

Each simulated person signs in once at start through the real sign-in endpoints (patients: the
mini-program's wx.login code exchanged at /api/v1/auth/wechat-login; staff: password) and
refreshes the access token shortly before it expires, as the apps do. Requests are named by
route template so the statistics group per endpoint.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, between, constant_pacing, task

CITY: dict[str, Any] = json.loads(
    Path(os.environ.get("LOAD_CITY", Path(__file__).with_name("city.json"))).read_text("utf-8")
)
TIME_SCALE = float(os.environ.get("LOAD_TIME_SCALE", "1"))
MEASURE_SECONDS = float(os.environ.get("LOAD_DURATION", "0"))
WECHAT_BASE = os.environ.get("LOAD_WECHAT_BASE", "http://127.0.0.1:8401")

UPLOAD_EVERY = 300.0  # seconds between a phone's uploads (real time)
BP_PER_UPLOAD = 2 / 288  # home blood pressure twice a day
RENEW_BEFORE = 60.0  # seconds before expiry the apps refresh their access token
SIGN_IN_RETRY_AFTER = 5.0  # seconds an app waits before trying a failed sign-in again
CHATTING = [p for p in CITY["patients"] if p["chatting"]]
QUIET = [p for p in CITY["patients"] if not p["chatting"]]
PATIENT_TEXTS = (
    "医生，今天午饭后血糖到了12点多，需要加药吗？",
    "好的，我按您说的晚饭后散步半小时。",
    "这周夜里低血糖提醒响了两次，已经吃了糖块。",
    "收到，谢谢医生！",
)
DOCTOR_TEXTS = (
    "看到了，您这两天餐后偏高，主食减一点，明天再看曲线。",
    "夜间低血糖要注意，睡前加一份牛奶，明早告诉我情况。",
    "药按原方案吃，下周一我们视频复诊。",
)


def scaled_between(low: float, high: float) -> Any:
    """A pause of `low`-`high` seconds of simulated time."""
    return between(low / TIME_SCALE, high / TIME_SCALE)


class Identities:
    """The city's people of one kind, each played by at most one simulated person at a time."""

    def __init__(self, items: list[Any], what: str) -> None:
        self.free = deque(items)
        self.size = len(items)
        self.what = what

    def take(self) -> Any:
        """An identity nobody plays now."""
        if not self.free:
            raise RuntimeError(f"more simulated {self.what} than the city has ({self.size})")
        return self.free.popleft()

    def give_back(self, identity: Any) -> None:
        """Free an identity again (its sign-in failed; locust starts a replacement user)."""
        self.free.append(identity)


_quiet = Identities(QUIET, "patients")
_chatting = Identities(CHATTING, "chatting patients")
_doctors = Identities(CITY["doctors"], "doctors")
_pharmacists = Identities(CITY["pharmacists"], "pharmacists")
_signed_in = itertools.count(1)


def started(user: FastHttpUser) -> None:
    """One more person has signed in; when everyone has, the statistics restart and the
    measurement lasts MEASURE_SECONDS."""
    runner = user.environment.runner
    if runner is None or next(_signed_in) != runner.target_user_count:
        return
    runner.stats.reset_all()
    logging.getLogger(__name__).warning(
        "all %d people signed in: statistics reset", runner.target_user_count
    )
    if MEASURE_SECONDS:
        gevent.spawn_later(MEASURE_SECONDS, runner.quit)


class Person(FastHttpUser):
    """Someone signed in to the service, refreshing the access token before it expires."""

    abstract = True
    access_token = ""
    refresh_token = ""
    renew_at = 0.0
    last_failure = ""

    def sign_in_as(self, identities: Identities, sign_in: Callable[[Any], None]) -> Any:
        """Take an identity and sign in (and whatever the app loads first) as it; on failure
        hand it back and wait before giving up, so the replacement user tries again."""
        identity = identities.take()
        try:
            sign_in(identity)
        except Exception:
            identities.give_back(identity)
            gevent.sleep(SIGN_IN_RETRY_AFTER)
            raise
        started(self)
        return identity

    def call(
        self,
        method: str,
        path: str,
        name: str,
        expect: int | tuple[int, ...] = 200,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any | None:
        """One API request under the route-template `name`: its JSON body (the response itself
        for an image or a 304), or None after recording a failure when the status is
        not `expect` (one status or several)."""
        headers = {"Accept-Language": "zh-CN", **(headers or {})}
        if not path.startswith("/api/v1/auth/"):
            if time.monotonic() >= self.renew_at:
                self.refresh()
            headers["Authorization"] = f"Bearer {self.access_token}"
        with self.client.request(
            method, path, name=name, headers=headers, catch_response=True, **kwargs
        ) as response:
            if response.status_code not in (expect if isinstance(expect, tuple) else (expect,)):
                self.last_failure = f"{response.status_code}: {(response.text or '')[:300]}"
                response.failure(self.last_failure)
                return None
            if response.status_code == 304 or response.headers.get("content-type", "").startswith(
                "image/"
            ):
                return response  # an image, or the cached copy still holds: headers matter
            return response.json()

    def keep(self, pair: dict[str, Any] | None) -> dict[str, Any]:
        """Hold a token pair from sign-in or refresh; the signed-in account."""
        if pair is None:
            raise RuntimeError(f"sign-in failed: {self.last_failure}")
        self.access_token, self.refresh_token = pair["access_token"], pair["refresh_token"]
        self.renew_at = time.monotonic() + pair["expires_in"] - RENEW_BEFORE
        account: dict[str, Any] = pair["account"]
        return account

    def refresh(self) -> None:
        """Exchange the (single-use) refresh token for a new pair."""
        self.keep(
            self.call(
                "POST",
                "/api/v1/auth/refresh",
                "/api/v1/auth/refresh",
                json={"refresh_token": self.refresh_token},
            )
        )

    def password_login(self, username: str) -> dict[str, Any]:
        """Staff sign-in."""
        return self.keep(
            self.call(
                "POST",
                "/api/v1/auth/password-login",
                "/api/v1/auth/password-login",
                json={"username": username, "password": CITY["password"]},
            )
        )


class Patient(Person):
    """A patient's phone: a CGM (one- or five-minute readings), maybe a BP monitor."""

    abstract = True
    patient: dict[str, Any]

    def wechat_login(self, patient: dict[str, Any]) -> None:
        """wx.login() on the phone, then the code exchanged with the service."""
        self.patient = patient
        with self.client.post(
            f"{WECHAT_BASE}/wx.login",
            name="[fake WeChat] /wx.login",
            json={"openid": patient["openid"]},
            catch_response=True,
        ) as response:
            code = response.json()["code"]
        self.keep(
            self.call(
                "POST",
                "/api/v1/auth/wechat-login",
                "/api/v1/auth/wechat-login",
                json={"code": code},
            )
        )

    def glucose(self, epoch: float) -> float:
        """The patient's glucose curve (as in set-up's history) plus sensor noise, mg/dL."""
        p = self.patient
        day = 2 * math.pi * (epoch + 8 * 3600) / 86400 + p["glucose_phase"]
        value = p["glucose_base"] + p["glucose_swing"] * math.sin(day) + random.uniform(-10, 10)
        return round(min(400.0, max(40.0, value)), 1)

    def upload_readings(self) -> None:
        """POST the device's readings of the last five minutes (and now and then a BP)."""
        p = self.patient
        step = p["cgm_interval"]
        last = math.floor(time.time() / step) * step
        slots = [last - k * step for k in reversed(range(int(UPLOAD_EVERY // step)))]
        items: list[dict[str, Any]] = [
            {
                "kind": "cgm",
                "device_id": p["cgm_device_id"],
                "measured_at": datetime.fromtimestamp(at, UTC).isoformat(),
                "utc_offset_minutes": 480,
                "value": self.glucose(at),
                "unit": "mg/dL",
            }
            for at in slots
        ]
        if p["bp_device_id"] and random.random() < BP_PER_UPLOAD:
            systolic = round(p["systolic_base"] + random.uniform(-8, 8))
            items.append(
                {
                    "kind": "bp",
                    "device_id": p["bp_device_id"],
                    "measured_at": datetime.now(UTC).isoformat(),
                    "utc_offset_minutes": 480,
                    "systolic": systolic,
                    "diastolic": round(systolic * 0.62),
                    "pulse": random.randint(62, 88),
                    "posture": "sitting",
                }
            )
        report = self.call("POST", "/api/v1/readings", "/api/v1/readings", json={"items": items})
        if report is not None and report["rejected"]:
            # The request itself succeeded; a rejected item is still an error of the run.
            self.environment.events.request.fire(
                request_type="POST",
                name="/api/v1/readings (rejected items)",
                response_time=0,
                response_length=0,
                exception=RuntimeError(json.dumps(report["items"][:3], ensure_ascii=False)),
                context={},
            )


class PatientUploader(Patient):
    """A patient whose phone uploads every five minutes and who otherwise leaves the app be."""

    weight = max(len(QUIET), 1)
    wait_time = constant_pacing(UPLOAD_EVERY / TIME_SCALE)

    def on_start(self) -> None:
        """Sign in; phones are not in step, so the first upload comes at a random moment."""
        self.sign_in_as(_quiet, self.wechat_login)
        gevent.sleep(random.uniform(0, UPLOAD_EVERY / TIME_SCALE))

    @task
    def upload(self) -> None:
        """The five-minute upload."""
        self.upload_readings()


class ChattingPatient(Patient):
    """A patient in a conversation with their doctor over HTTP (send, fetch new, sync, badge),
    whose phone keeps uploading every five minutes meanwhile."""

    weight = max(len(CHATTING), 1)
    wait_time = scaled_between(15, 45)
    conversation = ""
    seen = 0
    next_upload = 0.0

    def on_start(self) -> None:
        """Sign in and open the conversation list."""
        self.sign_in_as(_chatting, self.open_chat)
        self.next_upload = time.monotonic() + random.uniform(0, UPLOAD_EVERY / TIME_SCALE)

    def open_chat(self, patient: dict[str, Any]) -> None:
        """Sign in and find the conversation with the doctor."""
        self.wechat_login(patient)
        listing = self.call("GET", "/api/v1/chat/conversations", "/api/v1/chat/conversations")
        if listing is None:
            raise RuntimeError(f"conversation list failed: {self.last_failure}")
        if listing["items"]:
            first = listing["items"][0]
            self.conversation, self.seen = first["id"], first["last_seq"]

    def upload_when_due(self) -> None:
        """The phone uploads on its own clock, whatever the patient does."""
        if time.monotonic() >= self.next_upload:
            self.next_upload += UPLOAD_EVERY / TIME_SCALE
            self.upload_readings()

    @task(2)
    def send(self) -> None:
        """Write to the doctor."""
        self.upload_when_due()
        if self.conversation:
            sent = self.call(
                "POST",
                f"/api/v1/chat/conversations/{self.conversation}/messages",
                "/api/v1/chat/conversations/{conversation_id}/messages",
                expect=201,
                json={"client_msg_id": uuid.uuid4().hex, "text": random.choice(PATIENT_TEXTS)},
            )
            if sent:
                self.seen = max(self.seen, sent["seq"])

    @task(3)
    def fetch_new(self) -> None:
        """Look for the doctor's answer; mark it read when there is one."""
        self.upload_when_due()
        if not self.conversation:
            return
        page = self.call(
            "GET",
            f"/api/v1/chat/conversations/{self.conversation}/messages",
            "/api/v1/chat/conversations/{conversation_id}/messages",
            params={"after_seq": self.seen},
        )
        if page and page["items"]:
            self.seen = page["items"][-1]["seq"]
            self.call(
                "POST",
                f"/api/v1/chat/conversations/{self.conversation}/read",
                "/api/v1/chat/conversations/{conversation_id}/read",
                json={"up_to_seq": self.seen},
            )

    @task(1)
    def sync(self) -> None:
        """Catch up as after reopening the app."""
        self.upload_when_due()
        since = {self.conversation: self.seen} if self.conversation else {}
        self.call("POST", "/api/v1/chat/sync", "/api/v1/chat/sync", json={"since": since})

    @task(1)
    def badge(self) -> None:
        """The unread badge."""
        self.upload_when_due()
        self.call("GET", "/api/v1/chat/unread", "/api/v1/chat/unread")


class Doctor(Person):
    """A doctor in the app: panel, a patient's CGM summary and AGP chart, BP summary, alerts,
    and answering patients' messages."""

    fixed_count = len(CITY["doctors"])
    wait_time = scaled_between(10, 30)
    patients: list[dict[str, Any]]
    chart_tags: dict[str, str]  # the app's image cache: ETag by chart URL

    def on_start(self) -> None:
        """Sign in and open the panel."""
        self.patients = []
        self.chart_tags = {}
        self.sign_in_as(_doctors, self.open_panel)

    def open_panel(self, username: str) -> None:
        """Sign in and load the panel."""
        self.password_login(username)
        self.panel()

    def patient(self, with_bp: bool = False) -> dict[str, Any] | None:
        """A patient of the panel (one with BP readings when asked)."""
        choices = [p for p in self.patients if p["bp_readings"]] if with_bp else self.patients
        return random.choice(choices) if choices else None

    @task(2)
    def panel(self) -> None:
        """All my patients, most urgent first."""
        page = self.call("GET", "/api/v1/panel", "/api/v1/panel")
        if page is not None:
            self.patients = page["items"]

    @task(3)
    def cgm_summary(self) -> None:
        """One patient's 14-day CGM summary with the AGP percentiles."""
        if chosen := self.patient():
            self.call(
                "GET",
                f"/api/v1/patients/{chosen['patient_id']}/cgm-summary",
                "/api/v1/patients/{patient_id}/cgm-summary",
            )

    @task(1)
    def agp_chart(self) -> None:
        """The AGP chart as the app shows it (PNG), revalidating the copy it has cached."""
        if chosen := self.patient():
            path = f"/api/v1/patients/{chosen['patient_id']}/charts/agp.png"
            cached = self.chart_tags.get(path)
            response = self.call(
                "GET",
                path,
                "/api/v1/patients/{patient_id}/charts/agp.png",
                expect=(200, 304) if cached else 200,
                headers={"If-None-Match": cached} if cached else None,
            )
            if response is not None and response.headers.get("etag"):
                self.chart_tags[path] = response.headers["etag"]

    @task(1)
    def bp_summary(self) -> None:
        """A hypertensive patient's blood-pressure summary."""
        if chosen := self.patient(with_bp=True):
            self.call(
                "GET",
                f"/api/v1/patients/{chosen['patient_id']}/bp-summary",
                "/api/v1/patients/{patient_id}/bp-summary",
            )

    @task(2)
    def alerts(self) -> None:
        """Unacknowledged alerts; acknowledge the newest now and then."""
        page = self.call("GET", "/api/v1/alerts", "/api/v1/alerts")
        if page and page["items"] and random.random() < 0.5:
            self.call(
                "POST",
                f"/api/v1/alerts/{page['items'][0]['id']}/acknowledge",
                "/api/v1/alerts/{alert_id}/acknowledge",
            )

    @task(3)
    def answer(self) -> None:
        """Open the chat list and answer a conversation with unread messages."""
        listing = self.call("GET", "/api/v1/chat/conversations", "/api/v1/chat/conversations")
        waiting = [c for c in (listing or {"items": []})["items"] if c["unread"]]
        if not waiting:
            return
        conversation = random.choice(waiting)
        url = f"/api/v1/chat/conversations/{conversation['id']}"
        self.call(
            "GET",
            f"{url}/messages",
            "/api/v1/chat/conversations/{conversation_id}/messages",
            params={"after_seq": conversation["read_seq"]},
        )
        sent = self.call(
            "POST",
            f"{url}/messages",
            "/api/v1/chat/conversations/{conversation_id}/messages",
            expect=201,
            json={"client_msg_id": uuid.uuid4().hex, "text": random.choice(DOCTOR_TEXTS)},
        )
        if sent:
            self.call(
                "POST",
                f"{url}/read",
                "/api/v1/chat/conversations/{conversation_id}/read",
                json={"up_to_seq": sent["seq"]},
            )


class PharmacyStaff(Person):
    """A store pharmacist at the order board: list, open an order, move one along."""

    fixed_count = len(CITY["pharmacists"])
    wait_time = scaled_between(5, 20)
    orders: list[dict[str, Any]]
    couriers: list[str]

    def on_start(self) -> None:
        """Sign in, load the store's couriers and the board."""
        self.orders, self.couriers = [], []
        self.sign_in_as(_pharmacists, self.open_board)

    def open_board(self, username: str) -> None:
        """Sign in, load the store's couriers and the board."""
        self.password_login(username)
        found = self.call("GET", "/api/v1/pharmacy/couriers", "/api/v1/pharmacy/couriers")
        if found is None:
            raise RuntimeError(f"courier list failed: {self.last_failure}")
        self.couriers = [c["account_id"] for c in found["items"]]
        self.board()

    @task(3)
    def board(self) -> None:
        """The board: the store's orders, newest first."""
        page = self.call("GET", "/api/v1/orders", "/api/v1/orders", params={"limit": 200})
        if page is not None:
            self.orders = page["items"]

    @task(3)
    def detail(self) -> None:
        """One order with its lines, codes and history."""
        if self.orders:
            order = random.choice(self.orders)
            self.call("GET", f"/api/v1/orders/{order['id']}", "/api/v1/orders/{order_id}")

    @task(2)
    def advance(self) -> None:
        """The oldest actionable order moves one step: scan and pick an accepted one, accept a
        new one, or hand a picked delivery to a courier."""
        steps = (("accepted", self.pick), ("created", self.accept), ("picked", self.dispatch))
        for status, step in steps:
            waiting = [o for o in self.orders if o["status"] == status and self.can(step, o)]
            if waiting:
                step(waiting[-1])
                waiting[-1]["status"] = "moved"  # the next board load shows where it went
                return

    def can(self, step: Any, order: dict[str, Any]) -> bool:
        """Whether this store can take `step` on the order now (dispatch needs a courier)."""
        return step != self.dispatch or (order["fulfilment"] == "delivery" and bool(self.couriers))

    def transition(self, order: dict[str, Any], verb: str, **body: Any) -> None:
        """POST one board step with an Idempotency-Key, as the dashboard does."""
        self.call(
            "POST",
            f"/api/v1/orders/{order['id']}/{verb}",
            f"/api/v1/orders/{{order_id}}/{verb}",
            json=body,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )

    def accept(self, order: dict[str, Any]) -> None:
        """Accept a new order."""
        self.transition(order, "accept")

    def pick(self, order: dict[str, Any]) -> None:
        """Scan one traceability code per box, then pick."""
        boxes = [
            {"drug_id": line["drug_id"], "code": f"{uuid.uuid4().int % 10**20:020d}"}
            for line in order["lines"]
            for _ in range(line["packs"])
        ]
        scanned = self.call(
            "POST",
            f"/api/v1/orders/{order['id']}/scans",
            "/api/v1/orders/{order_id}/scans",
            json={"boxes": boxes},
        )
        if scanned and scanned["complete"]:
            self.transition(order, "pick")

    def dispatch(self, order: dict[str, Any]) -> None:
        """Give a picked delivery to one of the store's couriers."""
        self.transition(order, "dispatch", courier_account_id=random.choice(self.couriers))
