"""The pilot city's day under load: every patient's phone uploading CGM readings every five
minutes (BP and ECG at their own rates), some patients chatting with their doctor, doctors
working their panels, charts, alerts and chats, pharmacists working their stores' order boards
and couriers reporting where their parcels are. Run by bench/load/run.sh, or directly:

    LOAD_CITY=bench/load/city.json .venv/bin/locust -f bench/load/locustfile.py \\
        --host http://127.0.0.1:8400 --headless ...

Environment:
- LOAD_CITY: the JSON file written by bench/load/setup.py (default: city.json next to this file).
- LOAD_DURATION: seconds to measure once everyone has started, then stop (0: until locust's
  own --run-time). Statistics are reset at that moment, so sign-in storms are not in them.
- LOAD_TIME_SCALE: compress time by this factor (default 1 = real time): every pause, and
  the five-minute upload interval, is divided by it, so each simulated person acts that many
  times as often and the offered load is that of a city that many times larger. With nothing
  new to send (a tick before the sensor's next reading) a phone sends its latest reading
  again, which comes back as a duplicate (as when a phone retries).
- LOAD_GROUP: patients' phones played by one simulated user (default 50): one user uploads for
  each of its phones in turn, so the city's 30,000 phones are ~600 users with the same
  aggregate rate, each upload for a distinct patient with that patient's own token.
- LOAD_READS_HOST: where doctors send their panel, CGM and BP summaries and AGP charts (the
  "reads" deployment: the same app on processes of its own behind a path rule of the load
  balancer); unset, they go to --host with everything else.
- LOAD_CPU_OUT: where to write the CPU used over the measured window by the service
  (LOAD_SERVER_PID, one pid or several separated by commas, and their child processes),
  PostgreSQL (the backends of LOAD_DATABASE, and its background processes), Redis, locust
  itself and the whole machine (JSON).

Patients start with the sign-in sessions set-up opened for them through the app's own token
service (sign-in is measured by bench/sign_in_flood.py); each phone refreshes its access
token once it is within a minute of expiry, at the moment a phone of that age would: the
tokens' ages are spread evenly over their lifetime, so refreshes run at the steady rate of a
city whose phones signed in at different times. Staff sign in for real (password). Requests
are named by route template so the statistics group per endpoint.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import random
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gevent
import psutil
from locust import FastHttpUser, between, constant_pacing, events, task
from locust.contrib.fasthttp import FastHttpSession

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.ecg.helpers import beats_at, fhir_strip, regular_beats

CITY: dict[str, Any] = json.loads(
    Path(os.environ.get("LOAD_CITY", Path(__file__).with_name("city.json"))).read_text("utf-8")
)
TIME_SCALE = float(os.environ.get("LOAD_TIME_SCALE", "1"))
MEASURE_SECONDS = float(os.environ.get("LOAD_DURATION", "0"))
GROUP = int(os.environ.get("LOAD_GROUP", "50"))
READS_HOST = os.environ.get("LOAD_READS_HOST", "")

UPLOAD_EVERY = 300.0  # seconds between a phone's uploads (real time)
MISSED_UPLOADS = 0.1  # share of five-minute ticks a phone is out of reach and skips
MAX_BATCH = 3  # ... but never more than this many in a row: then it sends what it missed
BP_PER_UPLOAD = 2 / 288  # home blood pressure twice a day
ECG_PER_UPLOAD = 2 / 288  # a 30-second ECG strip twice a day
COURIER_EVERY = 30.0  # seconds between a courier app's position reports per parcel
COURIER_RELOAD = 10  # position rounds between reloads of the courier's parcel list
RENEW_BEFORE = 60.0  # seconds before expiry the apps refresh their access token
SIGN_IN_RETRY_AFTER = 5.0  # seconds an app waits before trying a failed sign-in again
SIGN_IN_ATTEMPTS = 5
TOKENS: dict[str, list[Any]] = CITY["tokens"]
CHATTING = [p for p in CITY["patients"] if p["chatting"]]
QUIET = [p for p in CITY["patients"] if not p["chatting"]]
YANGQUAN = (37.857, 113.563)  # city centre, where the couriers' rounds start
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


ECG_RATE = 250  # Hz, a single-lead patch
ECG_SECONDS = 30.0
# One sinus-rhythm strip at 75 bpm, sent again with new start times.
ECG_SAMPLES = beats_at(regular_beats(0.8, ECG_SECONDS), ECG_SECONDS, rate=ECG_RATE)


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


def groups_of(items: list[Any], size: int) -> list[list[Any]]:
    """`items` in ceil(len / size) groups of near-equal size."""
    count = max(1, math.ceil(len(items) / size)) if items else 0
    return [items[k::count] for k in range(count)]


_phone_groups = Identities(groups_of(QUIET, GROUP), "phone groups")
_chatting = Identities(CHATTING, "chatting patients")
_doctors = Identities(CITY["doctors"], "doctors")
_pharmacists = Identities(CITY["pharmacists"], "pharmacists")
_couriers = Identities(CITY.get("couriers", []), "couriers")
_started = itertools.count(1)
# Simulated people when the whole city plays (run.sh's default USERS).
PEOPLE = sum(i.size for i in (_phone_groups, _chatting, _doctors, _pharmacists, _couriers))


class CpuMeter:
    """CPU seconds used by the service, PostgreSQL, Redis, locust and the machine between
    start() and stop(), from the processes' own counters (less noisy than latency)."""

    def __init__(self) -> None:
        self.servers = [int(pid) for pid in os.environ.get("LOAD_SERVER_PID", "").split(",") if pid]
        self.database = os.environ.get("LOAD_DATABASE", "")
        self.before: dict[tuple[int, float], tuple[str, float]] = {}
        self.machine_before = psutil.cpu_times()
        self.loads: list[float] = []
        self.started_at = 0.0
        self.gave_up = 0  # simulated people who never managed to sign in

    def groups(self) -> dict[tuple[int, float], tuple[str, float]]:
        """(pid, start time) -> (group, CPU seconds so far) of every process measured."""
        out: dict[tuple[int, float], tuple[str, float]] = {}
        service = set()
        for server in self.servers:
            try:
                root = psutil.Process(server)
                service |= {root, *root.children(recursive=True)}
            except psutil.NoSuchProcess:
                pass
        me = psutil.Process()
        for process in psutil.process_iter(["name", "cmdline"]):
            try:
                title = " ".join(process.info["cmdline"] or [])
                name = process.info["name"] or ""
                if process in service:
                    group = "service"
                elif process.pid == me.pid:
                    group = "locust"
                elif name == "postgres" or title.startswith("postgres"):
                    own = bool(self.database) and f" {self.database} " in f"{title} "
                    group = (
                        "postgres (this database)"
                        if own
                        else "postgres (other databases, background)"
                    )
                elif name.startswith("redis-server"):
                    group = "redis (shared)"
                else:
                    continue
                times = process.cpu_times()
                out[(process.pid, process.create_time())] = (group, times.user + times.system)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return out

    def start(self) -> None:
        """Begin the measured window; sample the load average every 15 s."""
        self.before = self.groups()
        self.machine_before = psutil.cpu_times()
        self.started_at = time.monotonic()
        gevent.spawn(self.sample_load)

    def sample_load(self) -> None:
        """The 1-minute load average, every 15 s."""
        while True:
            self.loads.append(os.getloadavg()[0])
            gevent.sleep(15)

    def stop(self, path: str, requests: int) -> None:
        """End the window and write the figures to `path` (JSON)."""
        after = self.groups()
        machine = psutil.cpu_times()
        seconds = time.monotonic() - self.started_at
        used: dict[str, float] = {}
        for key, (group, total) in after.items():
            earlier = self.before.get(key, (group, 0.0))[1]
            used[group] = used.get(group, 0.0) + total - earlier
        used["machine (all processes)"] = busy(machine) - busy(self.machine_before)
        cores = psutil.cpu_count() or 1
        self.loads.append(os.getloadavg()[0])
        Path(path).write_text(
            json.dumps(
                {
                    "seconds": seconds,
                    "cores": cores,
                    "requests": requests,
                    "cpu_seconds": used,
                    "load_average_1min": self.loads,
                    "sign_ins_given_up": self.gave_up,
                },
                indent=1,
            ),
            encoding="utf-8",
        )


CPU = CpuMeter()


def busy(times: Any) -> float:
    """CPU seconds the machine's cores were busy (guest time is already in user time)."""
    idle = ("idle", "iowait", "guest", "guest_nice")
    return sum(v for k, v in times._asdict().items() if k not in idle)


def started(user: FastHttpUser) -> None:
    """One more simulated person has started; when everyone has, the statistics restart and
    the measurement lasts MEASURE_SECONDS."""
    runner = user.environment.runner
    if runner is None or next(_started) != runner.target_user_count:
        return
    runner.stats.reset_all()
    CPU.start()
    logging.getLogger(__name__).warning(
        "all %d simulated people started: statistics reset", runner.target_user_count
    )
    if MEASURE_SECONDS:
        gevent.spawn_later(MEASURE_SECONDS, runner.quit)


@events.quitting.add_listener
def write_cpu(environment: Any, **_: Any) -> None:
    """The CPU figures of the measured window, when asked for and the window began."""
    path = os.environ.get("LOAD_CPU_OUT")
    if path and CPU.started_at:
        CPU.stop(path, environment.stats.total.num_requests)


@dataclass
class Credentials:
    """One app's sign-in: the token pair and when to renew the access token."""

    access: str
    refresh: str
    renew_at: float  # time.monotonic()

    @classmethod
    def minted(cls, patient_id: str) -> Credentials:
        """The session set-up opened, renewed at a random moment between now and
        RENEW_BEFORE before its expiry: as if the phones had signed in at different times, so
        refreshes come at a steady rate (a little above a real city's, the tokens being a few
        minutes old already) instead of all at once."""
        access, refresh, expires_at, _ = TOKENS[patient_id]
        renew = random.uniform(time.time(), max(time.time(), expires_at - RENEW_BEFORE))
        return cls(access, refresh, time.monotonic() + renew - time.time())


class Person(FastHttpUser):
    """Someone signed in to the service, refreshing the access token before it expires."""

    abstract = True
    credentials: Credentials | None = None
    last_failure = ""

    def sign_in_as(self, identities: Identities, sign_in: Any) -> Any:
        """Take an identity and sign in (and whatever the app loads first) as it, trying again
        after a pause as the apps do (a busy service answers 503 `sign_in_busy`); after the
        last try hand it back and give up, so a replacement user tries again."""
        identity = identities.take()
        for attempt in range(1, SIGN_IN_ATTEMPTS + 1):
            try:
                sign_in(identity)
                break
            except Exception:
                gevent.sleep(SIGN_IN_RETRY_AFTER)
                if attempt == SIGN_IN_ATTEMPTS:
                    identities.give_back(identity)
                    CPU.gave_up += 1  # reported with the run: a person missing from the mix
                    started(self)
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
        credentials: Credentials | None = None,
        client: FastHttpSession | None = None,
        **kwargs: Any,
    ) -> Any | None:
        """One API request under the route-template `name` as `credentials` (default: this
        person's), through `client` (default: this person's, to --host): its JSON body (the
        response itself for an image or a 304), or None after recording a failure when the
        status is not `expect` (one status or several)."""
        headers = {"Accept-Language": "zh-CN", **(headers or {})}
        if not path.startswith("/api/v1/auth/"):
            who = credentials or self.credentials
            assert who is not None
            if time.monotonic() >= who.renew_at:
                self.refresh(who)
            headers["Authorization"] = f"Bearer {who.access}"
        with (client or self.client).request(
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

    def keep(self, pair: dict[str, Any] | None, credentials: Credentials | None = None) -> Any:
        """Hold a token pair from sign-in or refresh (in `credentials`, or as this person's);
        the signed-in account."""
        if pair is None:
            what = "sign-in" if credentials is None else "token refresh"
            raise RuntimeError(f"{what} failed: {self.last_failure}")
        renew_at = time.monotonic() + pair["expires_in"] - RENEW_BEFORE
        if credentials is None:
            self.credentials = Credentials(pair["access_token"], pair["refresh_token"], renew_at)
        else:
            credentials.access, credentials.refresh = pair["access_token"], pair["refresh_token"]
            credentials.renew_at = renew_at
        return pair["account"]

    def refresh(self, credentials: Credentials) -> None:
        """Exchange the (single-use) refresh token for a new pair."""
        self.keep(
            self.call(
                "POST",
                "/api/v1/auth/refresh",
                "/api/v1/auth/refresh",
                json={"refresh_token": credentials.refresh},
            ),
            credentials,
        )

    def password_login(self, username: str) -> dict[str, Any]:
        """Staff sign-in."""
        account: dict[str, Any] = self.keep(
            self.call(
                "POST",
                "/api/v1/auth/password-login",
                "/api/v1/auth/password-login",
                json={"username": username, "password": CITY["password"]},
            )
        )
        return account


class Phone:
    """A patient's phone: the CGM (one- or five-minute readings), maybe a BP monitor and an
    ECG patch, the patient's sign-in, and the last CGM reading it delivered."""

    def __init__(self, patient: dict[str, Any]) -> None:
        self.patient = patient
        self.credentials = Credentials.minted(patient["patient_id"])
        step = patient["cgm_interval"]
        self.sent = math.floor(time.time() / step) * step - int(UPLOAD_EVERY)
        self.skipped = 0

    def glucose(self, epoch: float) -> float:
        """The patient's glucose curve (as in set-up's history) plus sensor noise, mg/dL."""
        p = self.patient
        day = 2 * math.pi * (epoch + 8 * 3600) / 86400 + p["glucose_phase"]
        value = p["glucose_base"] + p["glucose_swing"] * math.sin(day) + random.uniform(-10, 10)
        return round(min(400.0, max(40.0, value)), 1)

    def due_readings(self) -> list[int]:
        """The CGM slots to send at this tick: none when the phone is out of reach (at most
        MAX_BATCH - 1 ticks in a row), else every one since the last delivered (the latest
        again when the sensor has nothing new, as a retry would)."""
        step = self.patient["cgm_interval"]
        latest = math.floor(time.time() / step) * step
        if self.skipped < MAX_BATCH - 1 and random.random() < MISSED_UPLOADS:
            self.skipped += 1
            return []
        self.skipped = 0
        oldest = max(self.sent + step, latest - (MAX_BATCH * int(UPLOAD_EVERY) // step - 1) * step)
        slots = list(range(oldest, latest + 1, step)) or [latest]
        self.sent = latest
        return slots

    def cgm(self, at: int) -> dict[str, Any]:
        """One CGM reading as the app sends it."""
        return {
            "kind": "cgm",
            "device_id": self.patient["cgm_device_id"],
            "measured_at": datetime.fromtimestamp(at, UTC).isoformat(),
            "utc_offset_minutes": 480,
            "value": self.glucose(at),
            "unit": "mg/dL",
        }

    def bp(self) -> dict[str, Any]:
        """A home blood-pressure reading taken now."""
        systolic = round(self.patient["systolic_base"] + random.uniform(-8, 8))
        return {
            "kind": "bp",
            "device_id": self.patient["bp_device_id"],
            "measured_at": datetime.now(UTC).isoformat(),
            "utc_offset_minutes": 480,
            "systolic": systolic,
            "diastolic": round(systolic * 0.62),
            "pulse": random.randint(62, 88),
            "posture": "sitting",
        }

    def ecg(self) -> dict[str, Any]:
        """A FHIR Observation of a 30-second strip that ended just now."""
        start = datetime.fromtimestamp(math.floor(time.time() - ECG_SECONDS), UTC)
        return fhir_strip(
            ECG_SAMPLES, start, rate=ECG_RATE, device_id=self.patient["ecg_device_id"]
        )


class Patient(Person):
    """Someone playing patients' phones."""

    abstract = True

    def readings(self, phone: Phone, items: list[dict[str, Any]], name: str) -> None:
        """POST readings for the phone's patient; rejected items are errors of the run."""
        report = self.call(
            "POST",
            "/api/v1/readings",
            name,
            credentials=phone.credentials,
            json={"items": items},
        )
        if report is not None and report["rejected"]:
            # The request itself succeeded; a rejected item is still an error of the run.
            self.environment.events.request.fire(
                request_type="POST",
                name=f"{name} (rejected items)",
                response_time=0,
                response_length=0,
                exception=RuntimeError(json.dumps(report["items"][:3], ensure_ascii=False)),
                context={},
            )

    def phone_tick(self, phone: Phone) -> None:
        """What a phone sends at its five-minute tick: new CGM readings (1 mostly, up to
        MAX_BATCH after missed ticks), now and then a BP reading or an ECG strip."""
        if slots := phone.due_readings():
            self.readings(phone, [phone.cgm(at) for at in slots], "/api/v1/readings")
        if phone.patient["bp_device_id"] and random.random() < BP_PER_UPLOAD:
            self.readings(phone, [phone.bp()], "/api/v1/readings (BP)")
        if phone.patient.get("ecg_device_id") and random.random() < ECG_PER_UPLOAD:
            self.call(
                "POST",
                "/api/v1/ecg-strips",
                "/api/v1/ecg-strips",
                expect=201,
                credentials=phone.credentials,
                data=json.dumps(phone.ecg()),
                headers={"Content-Type": "application/fhir+json"},
            )


class PhoneGroup(Patient):
    """GROUP patients whose phones upload every five minutes and who otherwise leave the app
    be, played in turn: the user's pace is the group's aggregate rate."""

    fixed_count = _phone_groups.size
    phones: list[Phone]
    turn = 0
    every = UPLOAD_EVERY
    next_tick = 0.0

    def on_start(self) -> None:
        """Take a group of phones; phones are not in step, so the first comes at random."""
        self.phones = [Phone(p) for p in self.sign_in_as(_phone_groups, lambda group: None)]
        self.every = UPLOAD_EVERY / TIME_SCALE / len(self.phones)
        gevent.sleep(random.uniform(0, self.every))
        self.next_tick = time.monotonic()

    def wait_time(self) -> float:
        """Until the next phone's tick (evenly spread over the five minutes)."""
        self.next_tick += self.every
        return max(0.0, self.next_tick - time.monotonic())

    @task
    def tick(self) -> None:
        """The next phone's five-minute upload."""
        self.phone_tick(self.phones[self.turn % len(self.phones)])
        self.turn += 1


class ChattingPatient(Patient):
    """A patient in a conversation with their doctor over HTTP (send, fetch new, sync, badge),
    whose phone keeps uploading every five minutes meanwhile."""

    fixed_count = _chatting.size
    wait_time = scaled_between(15, 45)
    phone: Phone
    conversation = ""
    seen = 0
    next_upload = 0.0

    def on_start(self) -> None:
        """Open the conversation list."""
        self.sign_in_as(_chatting, self.open_chat)
        self.next_upload = time.monotonic() + random.uniform(0, UPLOAD_EVERY / TIME_SCALE)

    def open_chat(self, patient: dict[str, Any]) -> None:
        """Find the conversation with the doctor."""
        self.phone = Phone(patient)
        self.credentials = self.phone.credentials
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
            self.phone_tick(self.phone)

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
    reads: FastHttpSession | None  # to the reads deployment (LOAD_READS_HOST), if there is one

    def on_start(self) -> None:
        """Sign in and open the panel."""
        self.patients = []
        self.chart_tags = {}
        self.reads = (
            FastHttpSession(
                base_url=READS_HOST,
                request_event=self.environment.events.request,
                user=self,
                network_timeout=self.network_timeout,
                connection_timeout=self.connection_timeout,
            )
            if READS_HOST
            else None
        )
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
        page = self.call("GET", "/api/v1/panel", "/api/v1/panel", client=self.reads)
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
                client=self.reads,
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
                client=self.reads,
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
                client=self.reads,
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


class Courier(Person):
    """A store's courier on the road: the app reports the courier's position for every parcel
    in transit every COURIER_EVERY seconds."""

    fixed_count = _couriers.size
    wait_time = constant_pacing(COURIER_EVERY / TIME_SCALE)
    account_id = ""
    parcels: list[str]
    rounds = 0
    at = YANGQUAN

    def on_start(self) -> None:
        """Sign in and load the parcels."""
        self.parcels = []
        self.sign_in_as(_couriers, self.open_round)

    def open_round(self, username: str) -> None:
        """Sign in and load the parcels."""
        self.account_id = self.password_login(username)["id"]
        self.load_parcels()

    def load_parcels(self) -> None:
        """The store's orders out with me."""
        page = self.call(
            "GET",
            "/api/v1/orders",
            "/api/v1/orders (courier)",
            params={"status": "dispatched", "courier": self.account_id, "limit": 50},
        )
        if page is not None:
            self.parcels = [o["id"] for o in page["items"]]

    @task
    def report(self) -> None:
        """Where I am, for each parcel in transit; the list again now and then."""
        self.rounds += 1
        if self.rounds % COURIER_RELOAD == 0:
            self.load_parcels()
        lat, lng = self.at
        self.at = (lat + random.uniform(-0.002, 0.002), lng + random.uniform(-0.002, 0.002))
        for parcel in self.parcels:
            self.call(
                "POST",
                f"/api/v1/orders/{parcel}/location",
                "/api/v1/orders/{order_id}/location",
                json={"lat": round(self.at[0], 6), "lng": round(self.at[1], 6)},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
