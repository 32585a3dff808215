"""A small pilot world for the prescription, pharmacy and delivery tests, written through the ORM:
an entitled patient in a doctor's care, a hospital reviewer, a formulary and a store with stock
and staff - plus helpers that walk a prescription to a state a test starts from.

The helpers are preconditions, not the behaviour under test: with the app in this process
(`World.app`) they call the services a request would, with the principal its token loads, in one
unit of work - a fraction of the cost of a chain of requests, each authenticating, presenting
and committing. Each endpoint they skip is exercised over HTTP by its own tests. A world served
by another process (the race server) has no `app` and walks over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from app.authz.principal import Principal, load_principal
from app.config import Settings
from app.db import bind_app_state, unit_of_work
from app.kit.clock import city_date, utcnow
from app.models import (
    Account,
    ChronicDisease,
    Doctor,
    DoctorSigningKey,
    Drug,
    EnrollmentApplication,
    Entitlement,
    FormularyItem,
    Patient,
    PharmacyOrder,
    PharmacyStaff,
    PharmacyStock,
    PharmacyStore,
    PrescriptionReviewer,
    Role,
)
from app.pharmacy import orders as order_service
from app.pharmacy.delivery import service as delivery_service
from app.pharmacy.delivery.schemas import DispatchIn, StepIn
from app.pharmacy.delivery.states import Actor, OrderStatus
from app.pharmacy.schemas import OrderCreate
from app.pharmacy.views import present_order
from app.prescription import service as rx_service
from app.prescription.schemas import PrescriptionCreate
from tests.fixtures import factories
from tests.insurance import world as insurance_world
from tests.prescription import phone as doctor_phone
from tests.prescription.phone import DoctorPhone

URBAN = "140302"
PINGDING = "140321"
UNCOVERED = "140399"


def _code(prefix: str, length: int = 23) -> str:
    return (prefix + uuid.uuid4().hex.upper())[:length]


@dataclass
class Drugs:
    metformin: Drug
    acarbose: Drug
    glargine: Drug  # cold chain
    phenformin: Drug  # a second biguanide: duplicate therapy with metformin
    estazolam: Drug  # controlled


@dataclass
class World:
    settings: Settings
    disease: ChronicDisease
    drugs: Drugs
    patient: Patient
    patient_account: Account
    doctor: Doctor
    doctor_account: Account
    reviewer_account: Account
    store: PharmacyStore
    pharmacist_account: Account
    courier_account: Account
    entitlement: Entitlement
    phone: DoctorPhone  # the doctor's device, its key registered and active
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    app: FastAPI | None = None  # the app under test, when it runs in this process

    def as_(self, who: str) -> dict[str, str]:
        """Authorization headers of one of: patient, doctor, reviewer, pharmacist, courier."""
        return self.headers[who]


async def drug(session: AsyncSession, name: str, price_fen: int, **flags: Any) -> Drug:
    """A catalogue drug with a fresh national code."""
    row = Drug(
        national_code=_code("XT"),
        generic_name_zh=name,
        generic_name_en=name,
        product_name_zh=name,
        form="片剂",
        strength="0.5g",
        pack="20片/盒",
        manufacturer_zh="测试药厂",
        price_fen=price_fen,
        insurance_class="full",
        **flags,
    )
    session.add(row)
    await session.flush()
    return row


async def formulary(
    session: AsyncSession,
    disease: ChronicDisease,
    drug_row: Drug,
    therapeutic_class: str,
    units_per_pack: int,
    max_daily: str,
    unit: str = "片",
) -> None:
    """Put a drug on the disease's formulary."""
    session.add(
        FormularyItem(
            disease_id=disease.id,
            drug_id=drug_row.id,
            therapeutic_class=therapeutic_class,
            dose_unit=unit,
            units_per_pack=units_per_pack,
            max_daily_quantity=Decimal(max_daily),
            default_route="口服" if unit != "单位" else "皮下注射",
        )
    )
    await session.flush()


async def entitle(
    session: AsyncSession, patient: Patient, disease: ChronicDisease, institution_id: uuid.UUID,
    *, days_left: int = 365,
) -> Entitlement:  # fmt: skip
    """An approved application and its entitlement, valid until `days_left` days from today."""
    today = city_date()
    application = EnrollmentApplication(
        patient_id=patient.id,
        disease_id=disease.id,
        institution_id=institution_id,
        status="approved",
        submitted_at=utcnow(),
        decided_at=utcnow(),
    )
    session.add(application)
    await session.flush()
    row = Entitlement(
        patient_id=patient.id,
        disease_id=disease.id,
        institution_id=institution_id,
        application_id=application.id,
        valid_from=today - timedelta(days=30),
        valid_until=today + timedelta(days=days_left),
    )
    session.add(row)
    await session.flush()
    return row


async def hospital_pharmacist(session: AsyncSession, institution_id: uuid.UUID) -> Account:
    """A pharmacist of the hospital (no store) who reviews its prescriptions."""
    account = Account(
        role=Role.pharmacist,
        display_name="审方药师",
        username=f"review-{uuid.uuid4().hex[:8]}",
        password_hash=factories.PASSWORD_HASH,
    )
    session.add(account)
    await session.flush()
    session.add(PrescriptionReviewer(account_id=account.id, institution_id=institution_id))
    await session.flush()
    return account


async def store_staff(session: AsyncSession, store: PharmacyStore, role: Role) -> Account:
    """A pharmacist or courier of `store`."""
    account = Account(
        role=role,
        display_name=f"{role}-{uuid.uuid4().hex[:4]}",
        username=f"{role}-{uuid.uuid4().hex[:8]}",
        password_hash=factories.PASSWORD_HASH,
    )
    session.add(account)
    await session.flush()
    session.add(PharmacyStaff(account_id=account.id, store_id=store.id))
    await session.flush()
    return account


async def stock(session: AsyncSession, store: PharmacyStore, drug_row: Drug, packs: int) -> None:
    """Packs of a drug on the store's shelf."""
    session.add(
        PharmacyStock(store_id=store.id, drug_id=drug_row.id, quantity=packs, updated_at=utcnow())
    )
    await session.flush()


async def active_key(
    session: AsyncSession, doctor: Doctor, doctor_account: Account, phone: DoctorPhone
) -> DoctorSigningKey:
    """The phone's key, registered by the doctor and activated (as an admin would)."""
    registration = phone.registration(doctor.id)
    row = DoctorSigningKey(
        doctor_id=doctor.id,
        public_key=phone.public_key,
        status="active",
        origin="device",
        device_label=registration["device_label"],
        registered_by_account_id=doctor_account.id,
        registration_proof=registration["proof"],
        activated_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def build(
    session: AsyncSession,
    settings: Settings,
    packs: int = 50,
    *,
    with_key: bool = True,
    insured: bool = True,
    app: FastAPI | None = None,
) -> World:
    """The whole world, with sign-in headers for each person (and the doctor's phone key
    active unless not `with_key`; the patient's insured identity verified unless not
    `insured`, e.g. on a database migrated only as far as before identities existed). Given
    the in-process `app`, the helpers below arrange through its services."""
    await factories.district(session, URBAN)
    pingding = await factories.district(session, PINGDING)
    pingding.name_zh, pingding.is_county, pingding.is_mountainous = "平定县", True, True
    uncovered = await factories.district(session, UNCOVERED)
    uncovered.name_zh = "外市某区"
    disease = await factories.disease(session, code=_code("M", 8))
    drugs = Drugs(
        metformin=await drug(session, "二甲双胍", 1580),
        acarbose=await drug(session, "阿卡波糖", 2960),
        glargine=await drug(session, "甘精胰岛素", 7250, cold_chain=True),
        phenformin=await drug(session, "苯乙双胍", 900),
        estazolam=await drug(session, "艾司唑仑", 320, controlled=True),
    )
    await formulary(session, disease, drugs.metformin, "biguanide", 20, "4")
    await formulary(session, disease, drugs.acarbose, "alpha_glucosidase", 30, "6")
    await formulary(session, disease, drugs.glargine, "basal_insulin", 300, "80", "单位")
    await formulary(session, disease, drugs.phenformin, "biguanide", 20, "3")

    patient_account = await factories.account(session, Role.patient)
    patient = await factories.patient_of(session, patient_account)
    patient.district_code = URBAN
    patient.address = "阳泉市城区南大街12号院3号楼2单元401"
    patient.phone = "13903531001"
    doctor_account = await factories.account(session, Role.doctor)
    doctor = await factories.doctor_of(session, doctor_account)
    await factories.care(session, patient, doctor)
    entitlement = await entitle(session, patient, disease, doctor.institution_id)
    # The bureau verified the patient's insured identity (bound to the entitlement), and the
    # patient declared the same: hand-overs can be settled.
    if insured:
        await factories.insured(session, patient)
    # Orders are pre-settled and hand-overs settled: the year's benefit rule must exist.
    await insurance_world.rule(session, disease, effective_from=date(city_date().year, 1, 1))
    limit = insurance_world.LIMIT
    await factories.list_in_catalogue(session, disease, {"310": limit, "390": limit})
    reviewer = await hospital_pharmacist(session, doctor.institution_id)

    store = await factories.store(session, covers=(URBAN,))
    store.name_zh = "国康大药房（北大街店）"
    for row in (drugs.metformin, drugs.acarbose, drugs.glargine, drugs.phenformin):
        await stock(session, store, row, packs)
    pharmacist = await store_staff(session, store, Role.pharmacist)
    courier = await store_staff(session, store, Role.courier)
    phone = DoctorPhone()
    if with_key:
        await active_key(session, doctor, doctor_account, phone)
    await session.flush()
    world = World(
        settings, disease, drugs, patient, patient_account, doctor, doctor_account, reviewer,
        store, pharmacist, courier, entitlement, phone, app=app,
    )  # fmt: skip
    for who, account in (
        ("patient", patient_account),
        ("doctor", doctor_account),
        ("reviewer", reviewer),
        ("pharmacist", pharmacist),
        ("courier", courier),
    ):
        world.headers[who] = await factories.bearer(session, settings, account)
    return world


def item(drug_row: Drug, dose: str = "1", frequency: str = "bid", days: int = 7) -> dict[str, Any]:
    """One prescription line as the doctor app sends it."""
    return {"drug_id": str(drug_row.id), "dose": dose, "frequency": frequency, "days_supply": days}


def rx_body(world: World, *items: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A prescription request for the world's patient (metformin 1 tablet bid, 7 days)."""
    body: dict[str, Any] = {
        "patient_id": str(world.patient.id),
        "disease_id": str(world.disease.id),
        "diagnosis_zh": "2型糖尿病伴周围神经病变，复诊",
        "items": list(items) or [item(world.drugs.metformin)],
    }
    body.update(overrides)
    return body


async def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The JSON body of a response that must have `status`."""
    assert response.status_code == status, response.text
    data = response.json()
    assert isinstance(data, dict)
    return data


@asynccontextmanager
async def in_app(app: FastAPI) -> AsyncIterator[AsyncSession]:
    """One unit of work on the app's sessions, bound to the app as a request's is."""
    async with unit_of_work(app.state.sessionmaker) as session:
        bind_app_state(session, app.state)
        yield session


async def principal_of(session: AsyncSession, app: FastAPI, world: World, who: str) -> Principal:
    """Who `who` is to the app: loaded from their token as a request would load it."""
    token = world.as_(who)["Authorization"].removeprefix("Bearer ")
    return await load_principal(session, token, HTTPConnection({"type": "http", "app": app}))


async def order_view(
    session: AsyncSession, app: FastAPI, world: World, who: str, order: PharmacyOrder
) -> dict[str, Any]:
    """The order as `who` sees it: the JSON body its endpoints answer with."""
    view = await present_order(session, await principal_of(session, app, world, who), order)
    return view.model_dump(mode="json")


async def order_row(
    session: AsyncSession, app: FastAPI, world: World, who: str, order_id: str
) -> tuple[Principal, PharmacyOrder]:
    """The order as the step's endpoint resolves it for `who` (row-locked)."""
    principal = await principal_of(session, app, world, who)
    row = await order_service.get_order(session, principal, uuid.UUID(order_id), lock=True)
    return principal, row


async def _sign(
    session: AsyncSession, app: FastAPI, world: World, body: dict[str, Any] | None
) -> uuid.UUID:
    """Write and sign the prescription; its id."""
    doctor = await principal_of(session, app, world, "doctor")
    request = PrescriptionCreate.model_validate(body or rx_body(world))
    draft = rx_service.Draft(
        request.diagnosis_zh, request.is_long, request.valid_days, request.items
    )
    written = await rx_service.create(
        session, app.state.settings, doctor, request.patient_id, request.disease_id, draft,
        visit_kind=request.visit_kind, consultation_id=request.consultation_id,
        idempotency_key=None,
    )  # fmt: skip
    content = (await rx_service.signing_payload(session, doctor, written.id)).content.decode()
    await rx_service.sign(session, doctor, written.id, content, world.phone.sign(content))
    return written.id


async def _approve(
    session: AsyncSession, app: FastAPI, world: World, body: dict[str, Any] | None
) -> uuid.UUID:
    """Write, sign and approve the prescription; its id."""
    prescription_id = await _sign(session, app, world, body)
    reviewer = await principal_of(session, app, world, "reviewer")
    await rx_service.approve(session, reviewer, prescription_id)
    return prescription_id


async def signed(
    client: httpx.AsyncClient, world: World, body: dict[str, Any] | None = None
) -> str:
    """A prescription written and signed by the world's doctor; its id."""
    if world.app is not None:
        async with in_app(world.app) as session:
            return str(await _sign(session, world.app, world, body))
    created = await ok(
        await client.post(
            "/api/v1/prescriptions", json=body or rx_body(world), headers=world.as_("doctor")
        ),
        201,
    )
    await ok(await doctor_phone.sign(client, created["id"], world.as_("doctor"), world.phone))
    return str(created["id"])


async def approved(
    client: httpx.AsyncClient, world: World, body: dict[str, Any] | None = None
) -> str:
    """A prescription signed and approved by the reviewer; its id."""
    if world.app is not None:
        async with in_app(world.app) as session:
            return str(await _approve(session, world.app, world, body))
    prescription_id = await signed(client, world, body)
    await ok(
        await client.post(
            f"/api/v1/prescriptions/{prescription_id}/approve", headers=world.as_("reviewer")
        )
    )
    return prescription_id


async def ordered(
    client: httpx.AsyncClient,
    world: World,
    body: dict[str, Any] | None = None,
    fulfilment: str = "delivery",
) -> dict[str, Any]:
    """An order at the world's store for a fresh approved prescription (the patient's view)."""
    key = f"order-{uuid.uuid4().hex}"
    if world.app is not None:
        async with in_app(world.app) as session:
            prescription_id = await _approve(session, world.app, world, body)
            patient = await principal_of(session, world.app, world, "patient")
            choice = OrderCreate.model_validate(
                {"prescription_id": prescription_id, "store_id": world.store.id,
                 "fulfilment": fulfilment}
            )  # fmt: skip
            order = await order_service.create_order(
                session, world.app.state.hub, patient, choice, key
            )
            return await order_view(session, world.app, world, "patient", order)
    prescription_id_text = await approved(client, world, body)
    return await ok(
        await client.post(
            "/api/v1/orders",
            json={
                "prescription_id": prescription_id_text,
                "store_id": str(world.store.id),
                "fulfilment": fulfilment,
            },
            headers={**world.as_("patient"), "Idempotency-Key": key},
        ),
        201,
    )


def trace_code(n: int | None = None) -> str:
    """A fresh 20-digit traceability code."""
    return f"{n if n is not None else uuid.uuid4().int % 10**20:020d}"


async def pick_in(
    session: AsyncSession, app: FastAPI, world: World, order: dict[str, Any]
) -> PharmacyOrder:
    """Accept the order, scan one fresh code per box and pick it (as the store's pharmacist)."""
    staff, row = await order_row(session, app, world, "pharmacist", order["id"])
    hub, actor = app.state.hub, Actor.of(staff)
    await delivery_service.step(
        session, hub, row, OrderStatus.accepted, actor, StepIn().to_place(), None
    )
    boxes = [
        delivery_service.BoxScan(uuid.UUID(line["drug_id"]), trace_code())
        for line in order["lines"]
        for _ in range(line["packs"])
    ]
    scans = await delivery_service.scan_boxes(session, hub, row, actor, boxes)
    assert all(scan.outcome == "accepted" for scan in scans), scans
    await delivery_service.pick(session, hub, row, actor, StepIn().to_place())
    return row


async def dispatch_in(
    session: AsyncSession, app: FastAPI, world: World, order: dict[str, Any], seal_id: str | None
) -> PharmacyOrder:
    """Pick the order and give it to the world's courier."""
    row = await pick_in(session, app, world, order)
    staff = await principal_of(session, app, world, "pharmacist")
    handing = DispatchIn(courier_account_id=world.courier_account.id, seal_id=seal_id)
    await delivery_service.dispatch(
        session, app.state.hub, app.state.settings, row, Actor.of(staff),
        handing.courier_account_id, handing.seal_id, handing.to_place(),
    )  # fmt: skip
    return row


async def picked(client: httpx.AsyncClient, world: World, order: dict[str, Any]) -> dict[str, Any]:
    """Accept the order and scan one code per box, then pick it (the pharmacist's view)."""
    if world.app is not None:
        async with in_app(world.app) as session:
            row = await pick_in(session, world.app, world, order)
            return await order_view(session, world.app, world, "pharmacist", row)
    url = f"/api/v1/orders/{order['id']}"
    staff = world.as_("pharmacist")
    await ok(await client.post(f"{url}/accept", headers=staff))
    boxes = [
        {"drug_id": line["drug_id"], "code": trace_code()}
        for line in order["lines"]
        for _ in range(line["packs"])
    ]
    scan = await ok(await client.post(f"{url}/scans", json={"boxes": boxes}, headers=staff))
    assert scan["complete"], scan
    return await ok(await client.post(f"{url}/pick", headers=staff))


async def dispatched(
    client: httpx.AsyncClient, world: World, order: dict[str, Any], seal_id: str | None = None
) -> dict[str, Any]:
    """Pick the order and give it to the world's courier (the pharmacist's view)."""
    if world.app is not None:
        async with in_app(world.app) as session:
            row = await dispatch_in(session, world.app, world, order, seal_id)
            return await order_view(session, world.app, world, "pharmacist", row)
    await picked(client, world, order)
    return await ok(
        await client.post(
            f"/api/v1/orders/{order['id']}/dispatch",
            json={"courier_account_id": str(world.courier_account.id), "seal_id": seal_id},
            headers=world.as_("pharmacist"),
        )
    )


async def quality_returned(
    client: httpx.AsyncClient, world: World, order: dict[str, Any], *, complete: bool = True
) -> str:
    """The patient's quality return of a handed-over order, accepted and its boxes checked in
    by the store's pharmacist, then completed unless `complete` is false; the return's URL."""
    staff = world.as_("pharmacist")
    opened = await ok(
        await client.post(
            f"/api/v1/orders/{order['id']}/quality-returns",
            json={"reason": "患者发现药品包装破损"},
            headers=world.as_("patient"),
        ),
        201,
    )
    url = f"/api/v1/quality-returns/{opened['id']}"
    await ok(await client.post(f"{url}/accept", headers=staff))
    await ok(await client.post(f"{url}/boxes", json={"codes": opened["codes_sold"]}, headers=staff))
    if complete:
        await ok(await client.post(f"{url}/complete", headers=staff))
    return url
