"""A worker SIGKILLed mid-load: clients retry against its replacement on the same port, and
idempotency keys make every write land exactly once (counted in the database afterwards).

Writes under load: readings batches (key: device + kind + measured time), chat messages
(`client_msg_id`), pharmacy orders and prescription drafts (`Idempotency-Key`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from app.kit.clock import utcnow
from app.models import (
    CareRelationship,
    ChatMessage,
    Patient,
    PharmacyOrder,
    PharmacyStock,
    Prescription,
    Reading,
)
from tests.faults.conftest import (
    CarePatient,
    FaultDb,
    RetryingClient,
    care_patient,
    count_of,
    patients_of,
    port_outside_ephemeral_range,
    service_env,
)
from tests.fixtures import factories
from tests.fixtures.servers import start_uvicorn, wait_until
from tests.prescription.world import URBAN, World, approved, build, entitle, item, ok, rx_body

pytestmark = pytest.mark.postgres

PATIENTS = 4  # the world's patient and three more of the same doctor
ROUNDS = 10  # per patient: one readings batch and one chat message each
BATCH = 30  # CGM points per upload
ORDER_ROUND = 3  # the round in which each patient orders their approved prescription
DRAFTS = 8  # prescription drafts the doctor writes meanwhile
STOCK = 50  # packs of each drug on the store's shelf


@dataclass(frozen=True)
class Orderer:
    patient: CarePatient
    prescription_id: str


async def _arrange(db: FaultDb) -> tuple[World, list[CarePatient]]:
    async with db.sessionmaker() as session:
        world = await build(session, db.settings, packs=STOCK)
        care = await session.scalar(
            select(CareRelationship).where(CareRelationship.patient_id == world.patient.id)
        )
        assert care is not None
        own = await care_patient(session, db.settings, world.patient_account, care)
        others = await patients_of(session, db.settings, world.doctor, PATIENTS - 1)
        for other in others:
            patient = await session.get(Patient, other.patient_id)
            assert patient is not None
            patient.district_code, patient.address = URBAN, "阳泉市城区桃北西街8号"
            await entitle(session, patient, world.disease, world.doctor.institution_id)
            # Verified by the bureau (bound to that entitlement), as every settled patient is.
            await factories.insured(session, patient)
        await session.commit()
    return world, [own, *others]


def _prescription_for(world: World, patient: CarePatient) -> dict:
    """Metformin for `patient` (approved before the load starts)."""
    return rx_body(world, patient_id=str(patient.patient_id))


@dataclass
class Progress:
    done: int = 0
    duplicates_reported: int = 0  # items a retry found stored already (its first try had landed)
    replayed: int = 0  # chat sends answered 200: the retry found the original message


async def _patient_load(
    client: RetryingClient, world: World, orderer: Orderer, progress: Progress
) -> str:
    patient = orderer.patient
    # ROUNDS x BATCH five-minute points: 25 hours, all in the past.
    start = utcnow() - timedelta(hours=30)
    order_id = ""
    for n in range(ROUNDS):
        batch = patient.cgm_batch(start + timedelta(minutes=n * BATCH * 5), BATCH)
        response = await client.request(
            "POST", "/api/v1/readings", json=batch, headers=patient.headers
        )
        report = await ok(response)
        assert report["rejected"] == 0 and report["accepted"] + report["duplicate"] == BATCH
        progress.duplicates_reported += report["duplicate"]
        progress.done += 1
        message = {"client_msg_id": f"round-{n}", "text": f"第{n + 1}次记录，血糖平稳"}
        response = await client.request(
            "POST",
            f"/api/v1/chat/conversations/{patient.conversation_id}/messages",
            json=message,
            headers=patient.headers,
        )
        assert response.status_code in (200, 201), response.text
        progress.replayed += response.status_code == 200
        progress.done += 1
        if n == ORDER_ROUND:
            body = {"prescription_id": orderer.prescription_id, "store_id": str(world.store.id)}
            headers = {**patient.headers, "Idempotency-Key": f"order-{patient.patient_id}"}
            response = await client.request("POST", "/api/v1/orders", json=body, headers=headers)
            order_id = str((await ok(response, 201))["id"])
            progress.done += 1
    return order_id


async def _doctor_load(
    client: RetryingClient, world: World, patient: CarePatient, progress: Progress
) -> list[str]:
    ids = []
    for n in range(DRAFTS):
        # Acarbose: the approved metformin must not make the drafts duplicate therapy.
        body = rx_body(world, item(world.drugs.acarbose), patient_id=str(patient.patient_id))
        headers = {**world.as_("doctor"), "Idempotency-Key": f"draft-{n}"}
        response = await client.request("POST", "/api/v1/prescriptions", json=body, headers=headers)
        ids.append(str((await ok(response, 201))["id"]))
        progress.done += 1
    return ids


async def test_worker_killed_mid_load_loses_nothing_and_applies_nothing_twice(
    fault_db: FaultDb,
) -> None:
    world, patients = await _arrange(fault_db)
    env = service_env(fault_db.url)
    port = port_outside_ephemeral_range()
    total_ops = PATIENTS * (2 * ROUNDS + 1) + DRAFTS
    progress = Progress()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        client = RetryingClient(http)
        async with start_uvicorn(env, port) as first:
            orderers = [
                Orderer(p, await approved(http, world, _prescription_for(world, p)))
                for p in patients
            ]
            load = asyncio.gather(
                *(_patient_load(client, world, orderer, progress) for orderer in orderers),
                _doctor_load(client, world, patients[0], progress),
            )
            # Mid-load: a quarter of the writes done and some requests on the wire.
            await wait_until(
                lambda: progress.done >= total_ops // 4 and client.in_flight >= 2,
                within=30,
                interval=0.005,
                what="the load to be under way",
            )
            in_flight_at_kill = client.in_flight
            await first.kill()
            killed_at = time.monotonic()
        assert progress.done < total_ops, "the load finished before the kill"
        async with start_uvicorn(env, port) as second:
            back_at = time.monotonic()
            *order_ids, draft_ids = await asyncio.wait_for(load, timeout=60)
            assert second.process.returncode is None

    print(
        f"\nworker kill: {in_flight_at_kill} requests in flight, replacement serving after "
        f"{back_at - killed_at:.1f} s; failed attempts {dict(client.failed_attempts)}; "
        f"retries that found their first try stored: {progress.duplicates_reported} reading "
        f"items, {progress.replayed} chat messages"
    )
    # Requests were cut off by the kill, and refused while the replacement started.
    assert client.failed_attempts["interrupted"] >= 1
    assert client.failed_attempts["refused"] >= 1
    scalar = fault_db.scalar
    for patient in patients:
        # Every reading stored once: the batches cover distinct times, ROUNDS * BATCH in all.
        assert await scalar(count_of(Reading, Reading.device_id == patient.device_id)) == (
            ROUNDS * BATCH
        )
        # Every chat message once, numbered without gaps.
        in_conversation = ChatMessage.conversation_id == patient.conversation_id
        sent = await scalar(
            count_of(
                ChatMessage, in_conversation, ChatMessage.sender_account_id == patient.account_id
            )
        )
        assert sent == ROUNDS
        assert await scalar(select(func.max(ChatMessage.seq)).where(in_conversation)) == (
            await scalar(count_of(ChatMessage, in_conversation))
        )
        # One order per patient, whatever the retries.
        assert (
            await scalar(count_of(PharmacyOrder, PharmacyOrder.patient_id == patient.patient_id))
            == 1
        )
    assert len(set(order_ids)) == PATIENTS
    # Stock was taken once per order: one pack of metformin each.
    metformin_left = select(PharmacyStock.quantity).where(
        PharmacyStock.store_id == world.store.id,
        PharmacyStock.drug_id == world.drugs.metformin.id,
    )
    assert await scalar(metformin_left) == STOCK - PATIENTS
    # The drafts: one row per key, and every retry answered with the same prescription.
    drafts = count_of(
        Prescription, Prescription.doctor_id == world.doctor.id, Prescription.status == "draft"
    )
    assert await scalar(drafts) == DRAFTS
    assert len(set(draft_ids)) == DRAFTS
