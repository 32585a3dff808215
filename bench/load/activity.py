"""What the load city's people did before the test, done through the real API (set-up only):
chat history in the chatting patients' conversations, and pharmacy orders written, signed,
reviewed, ordered and moved along the store boards (new, accepted, picked, dispatched,
completed), so every board has work and history when the load starts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from app.auth import service as auth_service
from app.db import create_engine, create_sessionmaker
from app.demo import data as demo
from app.demo.identity import bureau_clerk, declare_and_verify
from app.demo.journey import resident_id
from app.demo.phone import DemoPhone
from app.models import Account
from bench.readings_setup import bench_settings, plain

CONCURRENCY = 8
# Board states a fresh city's orders are left in (besides the new and the dispatched ones,
# which are set-up flags), per store.
FRESH_ORDERS = {"accepted": 8, "picked": 6, "completed": 10}
RESTOCK_PACKS = 200
# One tablet twice a day for a week: one pack.
_METFORMIN_LINE = {"dose": "1", "frequency": "bid", "days_supply": 7}
PATIENT_LINES = (
    "医生您好，这两天早上空腹血糖有点高，要调整用药吗？",
    "昨晚睡前测了一下，感觉比平时低，有点心慌。",
    "药快吃完了，麻烦帮我续个方。",
)
DOCTOR_LINES = (
    "我看了您最近三天的动态血糖，夜间有几次偏低，晚饭后别空腹散步太久。",
    "先按原方案继续，下周复诊时我们再看一下图谱。",
    "好的，我给您开七天的二甲双胍，审方通过后药房会配送到家。",
)


@dataclass(frozen=True)
class Store:
    id: uuid.UUID
    code: str
    districts: tuple[str, ...]
    pharmacist: uuid.UUID  # account ids
    courier: uuid.UUID


@dataclass
class World:
    """Ids and sign-in headers of everyone the set-up acts as."""

    disease_id: uuid.UUID  # diabetes with complications
    metformin_id: uuid.UUID
    admin: uuid.UUID  # activates the doctors' phone keys
    stores: list[Store]
    doctor_of: dict[uuid.UUID, uuid.UUID]  # patient id -> doctor account id
    account_of: dict[uuid.UUID, uuid.UUID]  # patient id -> patient account id
    district_of: dict[uuid.UUID, str]
    username_of: dict[uuid.UUID, str]  # doctor account id -> username (names their phone)
    # patient id -> the prescription reviewer at their doctor's institution (patients whose
    # doctor's institution has none are left out: nobody could approve their prescriptions)
    reviewer_of: dict[uuid.UUID, uuid.UUID]
    conversation_of: dict[uuid.UUID, uuid.UUID]  # chatting patient id -> care conversation
    url: str
    headers: dict[uuid.UUID, dict[str, str]]

    @classmethod
    async def load(cls, url: str, city: dict[str, Any]) -> World:
        """Look the city up in the database."""
        patient_ids = [uuid.UUID(p["patient_id"]) for p in city["patients"]]
        chatting = [uuid.UUID(p["patient_id"]) for p in city["patients"] if p["chatting"]]
        connection = await asyncpg.connect(plain(url))
        try:
            care = await connection.fetch(
                "SELECT p.id, p.account_id, p.district_code, d.account_id AS doctor, "
                "(SELECT username FROM accounts WHERE id = d.account_id) AS doctor_username, "
                "(SELECT r.account_id FROM prescription_reviewers r WHERE r.institution_id = "
                "d.institution_id ORDER BY r.created_at LIMIT 1) AS reviewer "
                "FROM patients p JOIN care_relationships c "
                "ON c.patient_id = p.id AND c.kind = 'primary' AND c.ended_at IS NULL "
                "JOIN doctors d ON d.id = c.doctor_id WHERE p.id = ANY($1::uuid[])",
                patient_ids,
            )
            stores = await connection.fetch(
                "SELECT s.id, s.code, array_agg(DISTINCT v.district_code) AS districts, "
                "min(a.id::text) FILTER (WHERE a.role = 'pharmacist') AS pharmacist, "
                "min(a.id::text) FILTER (WHERE a.role = 'courier') AS courier "
                "FROM pharmacy_stores s JOIN pharmacy_store_coverage v ON v.store_id = s.id "
                "JOIN pharmacy_staff f ON f.store_id = s.id JOIN accounts a ON a.id = f.account_id "
                "GROUP BY s.id, s.code ORDER BY s.code"
            )
            conversations = await connection.fetch(
                "SELECT patient_id, id FROM chat_conversations WHERE kind = 'care' "
                "AND closed_at IS NULL AND patient_id = ANY($1::uuid[])",
                chatting,
            )
            disease_id = await connection.fetchval(
                "SELECT id FROM chronic_diseases WHERE code = 'M01603'"
            )
            metformin_id = await connection.fetchval(
                "SELECT id FROM drugs WHERE national_code = $1", demo.METFORMIN_CODE
            )
            admin = await connection.fetchval(
                "SELECT id FROM accounts WHERE role = 'admin' ORDER BY username LIMIT 1"
            )
        finally:
            await connection.close()
        return cls(
            disease_id=disease_id,
            metformin_id=metformin_id,
            admin=admin,
            stores=[
                Store(
                    r["id"],
                    r["code"],
                    tuple(r["districts"]),
                    uuid.UUID(r["pharmacist"]),
                    uuid.UUID(r["courier"]),
                )
                for r in stores
            ],
            doctor_of={r["id"]: r["doctor"] for r in care},
            account_of={r["id"]: r["account_id"] for r in care},
            district_of={r["id"]: r["district_code"] for r in care},
            username_of={r["doctor"]: r["doctor_username"] for r in care},
            reviewer_of={r["id"]: r["reviewer"] for r in care if r["reviewer"]},
            conversation_of={r["patient_id"]: r["id"] for r in conversations},
            url=url,
            headers={},
        )

    async def sign_in(self, accounts: Sequence[uuid.UUID]) -> None:
        """Sign-in sessions for these accounts (the app's token service)."""
        settings = bench_settings(self.url)
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                for account_id in set(accounts) - set(self.headers):
                    account = await session.get(Account, account_id)
                    assert account is not None
                    pair = await auth_service.start_session(session, settings, account, "setup")
                    self.headers[account_id] = {"Authorization": f"Bearer {pair.access_token}"}
                await session.commit()
        finally:
            await engine.dispose()


async def ok(response: httpx.Response, *expected: int) -> dict[str, Any]:
    """The JSON body of a response that must have one of the expected statuses."""
    if response.status_code not in (expected or (200,)):
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.text}")
    body = response.json()
    assert isinstance(body, dict)
    return body


async def bounded(jobs: Sequence[Callable[[], Awaitable[int]]]) -> int:
    """Run the jobs CONCURRENCY at a time; the sum of what they return."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def run(job: Callable[[], Awaitable[int]]) -> int:
        async with gate:
            return await job()

    return sum(await asyncio.gather(*(run(job) for job in jobs)))


async def chat_history(base: str, world: World, messages: int) -> int:
    """`messages` alternating patient/doctor messages in each chatting conversation."""
    patients = list(world.conversation_of)
    await world.sign_in([world.account_of[p] for p in patients])
    await world.sign_in([world.doctor_of[p] for p in patients])
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:

        def conversation(patient_id: uuid.UUID) -> Callable[[], Awaitable[int]]:
            async def job() -> int:
                url = f"/api/v1/chat/conversations/{world.conversation_of[patient_id]}/messages"
                for n in range(messages):
                    by_patient = n % 2 == 0
                    lines = PATIENT_LINES if by_patient else DOCTOR_LINES
                    people = world.account_of if by_patient else world.doctor_of
                    sender = people[patient_id]
                    await ok(
                        await http.post(
                            url,
                            json={"client_msg_id": uuid.uuid4().hex, "text": lines[n // 2 % 3]},
                            headers=world.headers[sender],
                        ),
                        201,
                    )
                return messages

            return job

        return await bounded([conversation(p) for p in patients])


async def stock_boards(base: str, world: World, new_orders: int, in_transit: int) -> int:
    """Bring every store to `new_orders` new orders (and, for a fresh city, `in_transit` out
    with the courier and some in every other board state), each for a patient without a
    prescription yet; how many were placed."""
    connection = await asyncpg.connect(plain(world.url))
    try:
        counts = await connection.fetch(
            "SELECT store_id, status, count(*) AS n FROM pharmacy_orders GROUP BY 1, 2"
        )
        prescribed = {
            r["patient_id"] for r in await connection.fetch("SELECT patient_id FROM prescriptions")
        }
    finally:
        await connection.close()
    have = {(r["store_id"], r["status"]): r["n"] for r in counts}
    fresh = not counts
    plans: list[tuple[Store, str]] = []
    for store in world.stores:
        wanted = {
            "created": new_orders,
            **({**FRESH_ORDERS, "dispatched": in_transit} if fresh else {}),
        }
        for state, number in wanted.items():
            plans += [(store, state)] * max(0, number - have.get((store.id, state), 0))
    free = [p for p in world.reviewer_of if p not in prescribed]
    chosen: list[tuple[Store, str, uuid.UUID]] = []
    for store, state in plans:
        patient = next((p for p in free if world.district_of[p] in store.districts), None)
        if patient is None:
            raise RuntimeError(f"no patient left without a prescription near {store.code}")
        free.remove(patient)
        chosen.append((store, state, patient))
    await verify_identities(world.url, [p for _, _, p in chosen])
    await world.sign_in(
        [world.admin]
        + [a for s in world.stores for a in (s.pharmacist, s.courier)]
        + [
            a
            for _, _, p in chosen
            for a in (world.account_of[p], world.doctor_of[p], world.reviewer_of[p])
        ]
    )
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        for store in {s for s, _, _ in chosen}:
            await ok(
                await http.put(
                    f"/api/v1/pharmacy/stock/{world.metformin_id}",
                    json={"quantity": RESTOCK_PACKS},
                    headers=world.headers[store.pharmacist],
                )
            )
        phones = {
            doctor: await _doctor_phone(http, world, doctor)
            for doctor in {world.doctor_of[p] for _, _, p in chosen}
        }
        return await bounded(
            [
                _order_job(http, world, store, state, patient, phones[world.doctor_of[patient]])
                for store, state, patient in chosen
            ]
        )


async def verify_identities(url: str, patients: list[uuid.UUID]) -> None:
    """Each patient's insured identity declared and verified by the demo bureau clerk (orders
    are settled with it), unless it already is: fictitious resident IDs of their district and
    birth date."""
    connection = await asyncpg.connect(plain(url))
    try:
        rows = await connection.fetch(
            "SELECT p.id, p.district_code, p.birth_date, p.insurance_type FROM patients p "
            "WHERE p.id = ANY($1::uuid[]) AND NOT EXISTS "
            "(SELECT 1 FROM insured_identities i WHERE i.patient_id = p.id)",
            patients,
        )
    finally:
        await connection.close()
    engine = create_engine(bench_settings(url))
    given: set[str] = set()
    try:
        async with create_sessionmaker(engine)() as session:
            clerk = await bureau_clerk(session)
            for row in rows:
                national_id = resident_id(row["district_code"], row["birth_date"])
                while national_id in given:
                    national_id = resident_id(row["district_code"], row["birth_date"])
                given.add(national_id)
                await declare_and_verify(
                    session, clerk, row["id"], national_id, row["insurance_type"]
                )
            await session.commit()
    finally:
        await engine.dispose()


async def _doctor_phone(http: httpx.AsyncClient, world: World, doctor: uuid.UUID) -> DemoPhone:
    """The doctor's phone (a demo-derived key), registered by the doctor and activated by the
    admin unless it already is."""
    phone = DemoPhone(world.username_of[doctor])
    headers = world.headers[doctor]
    mine = await ok(await http.get("/api/v1/doctors/me/signing-keys", headers=headers))
    key = next((k for k in mine["items"] if k["public_key"] == phone.public_key), None)
    if key is None:
        me = await ok(await http.get("/api/v1/doctors/me", headers=headers))
        key = await ok(
            await http.post(
                "/api/v1/doctors/me/signing-keys",
                json=phone.registration(uuid.UUID(me["id"])),
                headers=headers,
            ),
            201,
        )
    if key["status"] == "pending":
        await ok(
            await http.post(
                f"/api/v1/signing-keys/{key['id']}/activate",
                json={"fingerprint": phone.fingerprint},
                headers=world.headers[world.admin],
            )
        )
    return phone


def _order_job(
    http: httpx.AsyncClient,
    world: World,
    store: Store,
    state: str,
    patient_id: uuid.UUID,
    phone: DemoPhone,
) -> Callable[[], Awaitable[int]]:
    async def job() -> int:
        doctor = world.headers[world.doctor_of[patient_id]]
        patient = world.headers[world.account_of[patient_id]]
        staff = world.headers[store.pharmacist]
        # Delivery needs the patient's address on their profile, as the mini-program asks.
        await ok(
            await http.patch(
                "/api/v1/patients/me",
                json={
                    "address": f"阳泉市{store.code[-4:]}小区{patient_id.int % 40 + 1}号楼",
                    "phone": f"139{patient_id.int % 10**8:08d}",
                },
                headers=patient,
            )
        )
        written = await ok(
            await http.post(
                "/api/v1/prescriptions",
                json={
                    "patient_id": str(patient_id),
                    "disease_id": str(world.disease_id),
                    "diagnosis_zh": "2型糖尿病伴周围神经病变，复诊",
                    "items": [_METFORMIN_LINE | {"drug_id": str(world.metformin_id)}],
                },
                headers=doctor,
            ),
            201,
        )
        rx = f"/api/v1/prescriptions/{written['id']}"
        # The doctor's phone signs the exact bytes the service hands out.
        payload = await ok(await http.get(f"{rx}/signing-payload", headers=doctor))
        await ok(await http.post(f"{rx}/sign", json=phone.signature_for(payload), headers=doctor))
        reviewer = world.headers[world.reviewer_of[patient_id]]
        await ok(await http.post(f"{rx}/approve", headers=reviewer))
        order = await ok(
            await http.post(
                "/api/v1/orders",
                json={"prescription_id": written["id"], "store_id": str(store.id)},
                headers={**patient, "Idempotency-Key": uuid.uuid4().hex},
            ),
            201,
        )
        url = f"/api/v1/orders/{order['id']}"
        steps = ("created", "accepted", "picked", "dispatched", "completed")
        target = steps.index(state)
        if target >= 1:
            await ok(await http.post(f"{url}/accept", headers=staff))
        if target >= 2:
            boxes = [
                {"drug_id": line["drug_id"], "code": f"{uuid.uuid4().int % 10**20:020d}"}
                for line in order["lines"]
                for _ in range(line["packs"])
            ]
            await ok(await http.post(f"{url}/scans", json={"boxes": boxes}, headers=staff))
            await ok(await http.post(f"{url}/pick", headers=staff))
        if target >= 3:
            await ok(
                await http.post(
                    f"{url}/dispatch",
                    json={"courier_account_id": str(store.courier)},
                    headers=staff,
                )
            )
        if target >= 4:
            courier = world.headers[store.courier]
            code = (await ok(await http.get(url, headers=patient)))["handover_code"]
            await ok(await http.post(f"{url}/handover", json={"code": code}, headers=courier))
            await ok(await http.post(f"{url}/complete", headers=courier))
        return 1

    return job
