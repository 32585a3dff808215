"""Races on what an admin creates (institutions, stores, drugs, catalogue editions), staff moved
or imported, and what a patient holds (the Nightscout secret, WeChat subscription grants) - N
identical requests at once against a real server on PostgreSQL: one 2xx and otherwise 409
problem+json (or, for a report sent under one Idempotency-Key, every answer 2xx and one
effect), never a 500, and the database holds one effect."""

from __future__ import annotations

import csv
import hashlib
import io
import random
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import city_date, utcnow
from app.models import (
    Account,
    AuditEvent,
    CatalogueEdition,
    Device,
    Doctor,
    Drug,
    EnrollmentReviewer,
    Institution,
    NightscoutCredential,
    Patient,
    PharmacyChain,
    PharmacyStore,
    PushGrant,
    Role,
    StoreIntegration,
)
from tests.enrollment import builders
from tests.fixtures import factories
from tests.fixtures.races import RaceServer, race
from tests.races.conftest import committed

pytestmark = pytest.mark.postgres

CREDENTIAL = "/api/v1/nightscout/credential"


def _sequence() -> str:
    """A five-digit sequence for a national code nobody else in the race database holds."""
    return f"{random.randrange(1, 100_000):05d}"


async def _admin(server: RaceServer) -> dict[str, str]:
    async def build(session: AsyncSession) -> dict[str, str]:
        await factories.district(session)
        return await factories.bearer(
            session, server.settings, await factories.account(session, Role.admin)
        )

    return await committed(server, build)


async def test_one_institution_created_at_once_is_added_once(server: RaceServer) -> None:
    admin = await _admin(server)
    code = f"H140302{_sequence()}"
    body = {
        "code": code, "name_zh": "并发社区卫生服务中心", "name_en": "Race Community Centre",
        "level": "secondary", "district_code": "140302",
    }  # fmt: skip
    result = await race(server.http, "POST", "/api/v1/institutions", json=body, headers=admin)
    assert result.one_winner("institution_code_taken").status_code == 201
    assert await server.count(Institution, Institution.code == code) == 1


async def test_one_store_created_at_once_is_added_once(server: RaceServer) -> None:
    admin = await _admin(server)

    async def chain(session: AsyncSession) -> str:
        row = await session.get(PharmacyChain, (await factories.store(session)).chain_id)
        assert row is not None
        return row.code

    chain_code = await committed(server, chain)
    code = f"RACE-{uuid.uuid4().hex[:8]}"
    body = {
        "chain_code": chain_code, "code": code, "fixmedins_code": f"P140302{_sequence()}",
        "name_zh": "国康大药房（并发店）", "name_en": "Guokang Pharmacy, Race",
        "district_code": "140302", "address_zh": "阳泉市城区并发路1号", "covers": ["140302"],
    }  # fmt: skip
    result = await race(server.http, "POST", "/api/v1/pharmacy-stores", json=body, headers=admin)
    assert result.one_winner("store_code_taken").status_code == 201
    assert await server.count(PharmacyStore, PharmacyStore.code == code) == 1


async def test_one_drug_created_at_once_is_added_once(server: RaceServer) -> None:
    admin = await _admin(server)
    code = "X" + uuid.uuid4().hex[:22].upper()
    body = {
        "national_code": code, "generic_name_zh": "二甲双胍", "generic_name_en": "Metformin",
        "product_name_zh": "格华止", "form": "片剂", "strength": "0.5g", "pack": "20片/盒",
        "manufacturer_zh": "中美上海施贵宝", "price_fen": 2350, "insurance_class": "full",
    }  # fmt: skip
    result = await race(server.http, "POST", "/api/v1/drugs", json=body, headers=admin)
    assert result.one_winner("drug_code_taken").status_code == 201
    assert await server.count(Drug, Drug.national_code == code) == 1


async def test_one_catalogue_edition_published_at_once_is_published_once(
    server: RaceServer,
) -> None:
    """An admin's double press on "publish" adds one edition for that day; the copies are 409,
    as a second edition of one day is."""

    async def build(session: AsyncSession) -> dict[str, str]:
        await builders.catalogue(session)
        return await factories.bearer(
            session, server.settings, await factories.account(session, Role.admin)
        )

    admin = await committed(server, build)
    day = city_date() + timedelta(days=random.randrange(3_650, 36_500))
    body = {
        "effective_from": day.isoformat(),
        "note": "并发发布",
        "entries": [
            {
                "disease_code": "M01603",
                "online_admitted": True,
                "annual_limits_fen": {"310": 600_000, "390": 500_000},
            }
        ],
    }
    result = await race(server.http, "POST", "/api/v1/catalogue/editions", json=body, headers=admin)
    assert result.one_winner("catalogue_edition_date_taken").status_code == 201
    assert await server.count(CatalogueEdition, CatalogueEdition.effective_from == day) == 1


async def test_a_store_integration_put_at_once_is_stored_once(server: RaceServer) -> None:
    """The first PUT of a store's partner integration (its webhook and shared key), sent
    twice at once: a PUT, so every copy may succeed, but never a 500 from two first rows,
    and the store has the one integration with that key."""

    async def build(session: AsyncSession) -> tuple[dict[str, str], uuid.UUID]:
        admin = await factories.account(session, Role.admin)
        shop = await factories.store(session)
        return await factories.bearer(session, server.settings, admin), shop.id

    admin, store_id = await committed(server, build)
    body = {"webhook_url": "http://127.0.0.1:9/hook", "secret": uuid.uuid4().hex}
    url = f"/api/v1/pharmacy/stores/{store_id}/integration"
    result = await race(server.http, "PUT", url, json=body, headers=admin)
    result.no_server_errors()
    assert result.statuses == [200] * len(result.responses), result.statuses
    integrations = StoreIntegration.store_id == store_id
    assert await server.count(StoreIntegration, integrations) == 1
    assert (
        await server.scalar(select(StoreIntegration.secret).where(integrations)) == body["secret"]
    )


async def test_a_staff_move_sent_at_once_moves_once(server: RaceServer) -> None:
    """One move, one audit (from, to, why); the copies find the doctor already there (409)."""

    async def build(session: AsyncSession) -> tuple[dict[str, str], str, str]:
        admin = await factories.account(session, Role.admin)
        doctor = await factories.account(session, Role.doctor)
        target = await factories.institution(session, code=f"H140302{_sequence()}")
        bearer = await factories.bearer(session, server.settings, admin)
        return bearer, str(doctor.id), target.code

    admin, account_id, code = await committed(server, build)
    body = {"institution_code": code, "reason": "调往社区"}
    url = f"/api/v1/staff/{account_id}/move"
    result = await race(server.http, "POST", url, json=body, headers=admin)
    result.one_winner("staff_move_same_workplace")
    moves = await server.count(
        AuditEvent, AuditEvent.resource_id == account_id, AuditEvent.action == "move"
    )
    assert moves == 1


async def test_one_staff_file_imported_at_once_creates_everyone_once(server: RaceServer) -> None:
    """The same spreadsheet uploaded from several tabs: one import creates its people, every
    other copy is refused whole (the usernames are taken: 409 when it met them being written,
    422 with its report when it read them written), never a 500 or a second account."""

    async def build(session: AsyncSession) -> tuple[dict[str, str], str, str]:
        admin = await factories.account(session, Role.admin)
        hospital = await factories.institution(session, code=f"H140302{_sequence()}")
        shop = await factories.store(session)
        return await factories.bearer(session, server.settings, admin), hospital.code, shop.code

    admin, hospital_code, store_code = await committed(server, build)
    suffix = uuid.uuid4().hex[:6]
    usernames = [f"dr.race{suffix}", f"courier.race{suffix}"]
    rows = [
        ["用户名", "姓名", "角色", "机构代码", "门店编码", "科室", "职称", "专长病种"],
        [usernames[0], "并发医生", "医生", hospital_code, "", "内分泌科", "主治医师", "M01600"],
        [usernames[1], "并发骑手", "配送员", "", store_code, "", "", ""],
    ]
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    files = {"file": ("staff.csv", buffer.getvalue().encode("utf-8-sig"), "text/csv")}
    result = await race(server.http, "POST", "/api/v1/staff/imports", files=files, headers=admin)
    result.no_server_errors()
    assert [r.status_code for r in result.responses].count(201) == 1, result.statuses
    for loser in (r for r in result.responses if r.status_code != 201):
        assert (loser.status_code, loser.json()["code"]) in {
            (409, "staff_username_taken"),
            (422, "staff_import_rejected"),
        }, loser.text
    assert await server.count(Account, Account.username.in_(usernames)) == 2
    doctors = await server.count(
        Doctor,
        Doctor.account_id.in_(select(Account.id).where(Account.username.in_(usernames))),
    )
    assert doctors == 1


@pytest.mark.parametrize("method", ["POST", "DELETE"])
async def test_an_enrollment_reviewer_granted_or_revoked_at_once_changes_once(
    server: RaceServer, method: str
) -> None:
    """Who may approve enrollments (and so open the fund's money to a patient) changes once:
    one grant (the copies 409) or one revocation (the copies find none live: 404, as one by
    one)."""

    async def build(session: AsyncSession) -> tuple[dict[str, str], uuid.UUID]:
        admin = await factories.account(session, Role.admin)
        doctor = await factories.doctor_of(session, await factories.account(session, Role.doctor))
        if method == "DELETE":
            await factories.enrollment_reviewer(session, doctor, admin)
        return await factories.bearer(session, server.settings, admin), doctor.id

    admin, doctor_id = await committed(server, build)
    reviewers = "/api/v1/enrollment/reviewers"
    if method == "POST":
        result = await race(
            server.http, "POST", reviewers, json={"doctor_id": str(doctor_id)}, headers=admin
        )
        result.one_winner("reviewer_exists")
    else:
        result = await race(server.http, "DELETE", f"{reviewers}/{doctor_id}", headers=admin)
        result.no_server_errors()
        assert result.statuses == [204] + [404] * (len(result.responses) - 1), result.statuses
    live = await server.count(
        EnrollmentReviewer,
        EnrollmentReviewer.doctor_id == doctor_id,
        EnrollmentReviewer.revoked_at.is_(None),
    )
    grants = await server.count(EnrollmentReviewer, EnrollmentReviewer.doctor_id == doctor_id)
    assert (live, grants) == ((1, 1) if method == "POST" else (0, 1))


async def _patient(server: RaceServer) -> tuple[uuid.UUID, dict[str, str]]:
    async def build(session: AsyncSession) -> tuple[uuid.UUID, dict[str, str]]:
        account = await factories.account(session, Role.patient)
        patient = await factories.patient_of(session, account)
        return patient.id, await factories.bearer(session, server.settings, account)

    return await committed(server, build)


async def _works(server: RaceServer, secret: str) -> bool:
    """Whether a Nightscout uploader holding `secret` is let in."""
    digest = hashlib.sha1(secret.encode()).hexdigest()
    answer = await server.http.get("/api/v1/verifyauth", headers={"api-secret": digest})
    assert answer.status_code == 200, answer.text
    return bool(answer.json()["message"].get("message") == "OK")


@pytest.mark.parametrize("first", ["create", "rotate", "after_revoke"])
async def test_a_nightscout_secret_made_at_once_hands_out_one_working_secret(
    server: RaceServer, first: str
) -> None:
    """The patient presses "new Nightscout secret" twice at once: a secret shown is a secret
    that works, so one answer is 201 with it and the copies are 409 - never a 500 (two first
    credentials), nor several 201s whose secrets the last one silently killed."""
    patient_id, patient = await _patient(server)
    if first != "create":
        made = await server.http.post(CREDENTIAL, headers=patient)
        assert made.status_code == 201, made.text
    if first == "rotate":  # set a while ago: a secret set in the last seconds is kept
        async with server.sessionmaker() as session:
            await session.execute(
                update(NightscoutCredential)
                .where(NightscoutCredential.patient_id == patient_id)
                .values(rotated_at=utcnow() - timedelta(minutes=5))
            )
            await session.commit()
    if first == "after_revoke":  # the uploader device stays: the credential is new again
        gone = await server.http.delete(CREDENTIAL, headers=patient)
        assert gone.status_code == 204, gone.text
    result = await race(server.http, "POST", CREDENTIAL, headers=patient)
    winner = result.one_winner("nightscout_credential_changed")
    assert await _works(server, winner.json()["secret"])
    credential = NightscoutCredential.patient_id == patient_id
    assert await server.count(NightscoutCredential, credential) == 1
    assert await server.count(Device, Device.patient_id == patient_id) == 1


async def test_a_nightscout_secret_revoked_at_once_is_revoked_once(server: RaceServer) -> None:
    patient_id, patient = await _patient(server)
    made = await server.http.post(CREDENTIAL, headers=patient)
    assert made.status_code == 201, made.text
    result = await race(server.http, "DELETE", CREDENTIAL, headers=patient)
    result.no_server_errors()
    assert result.statuses == [204] + [404] * (len(result.responses) - 1), result.statuses
    assert not await _works(server, made.json()["secret"])
    revocations = await server.count(
        AuditEvent,
        AuditEvent.patient_id == patient_id,
        AuditEvent.resource_type == "nightscout_credential",
        AuditEvent.action == "delete",
    )
    assert revocations == 1


async def test_one_subscription_report_sent_at_once_counts_once(server: RaceServer) -> None:
    """What `wx.requestSubscribeMessage` answered, posted from a flaky network several times
    under its one Idempotency-Key: every answer is 200 and the "accept" allows one message,
    not one per copy."""
    patient_id, patient = await _patient(server)
    template_id = server.settings.wechat_templates["chat_new_message"].template_id
    headers = {**patient, "Idempotency-Key": f"grant-{uuid.uuid4().hex}"}
    body = {"results": {template_id: "accept"}}
    result = await race(
        server.http, "POST", "/api/v1/me/subscription-grants", json=body, headers=headers
    )
    result.no_server_errors()
    assert result.statuses == [200] * len(result.responses), result.statuses
    remaining = await server.scalar(
        select(PushGrant.remaining)
        .join(Patient, Patient.account_id == PushGrant.account_id)
        .where(Patient.id == patient_id, PushGrant.template_id == template_id)
    )
    assert remaining == 1
