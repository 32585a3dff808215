"""Rows the issue-4 tests need: the catalogue, entitled patients, doctors with presence, and a
complete "someone else's" world for the access matrix. Written through the ORM."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import city_date, utcnow
from app.models import (
    Account,
    AssignmentDecision,
    CareTeam,
    CareTeamMember,
    CatalogueEdition,
    CatalogueEntry,
    CatalogueLimit,
    ChronicDisease,
    ConsultationRequest,
    Doctor,
    DoctorLoad,
    DoctorPresence,
    EnrollmentApplication,
    EnrollmentRecord,
    Entitlement,
    FollowUp,
    FollowUpPlan,
    Institution,
    Patient,
    Referral,
    Role,
)
from tests.fixtures import factories

FIRST_EDITION = factories.FIRST_EDITION
# code, national code, online admitted
DISEASES = (
    ("M01600", "M01600", False),
    ("M01603", "M01600", True),
    ("M03900", "M03900", False),
    ("M03902", "M03900", True),
)
LIMITS = {"310": 500_000, "390": 400_000}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


async def diseases(session: AsyncSession) -> dict[str, ChronicDisease]:
    """The test diseases by code (created if missing)."""
    found = {
        d.code: d
        for d in await session.scalars(
            select(ChronicDisease).where(ChronicDisease.code.in_([c for c, _, _ in DISEASES]))
        )
    }
    for code, national, admitted in DISEASES:
        if code not in found:
            row = ChronicDisease(
                code=code,
                national_code=national,
                category_code=await factories.category(session, national[:4]),
                name_zh=f"病种{code}",
                name_en=f"Disease {code}",
                online_admitted=admitted,
            )
            session.add(row)
            found[code] = row
    await session.flush()
    return found


async def catalogue(session: AsyncSession) -> CatalogueEdition:
    """The first catalogue edition (in force since 2020), created if missing."""
    by_code = await diseases(session)
    edition = await session.scalar(
        select(CatalogueEdition).where(CatalogueEdition.effective_from == FIRST_EDITION)
    )
    if edition is None:
        edition = CatalogueEdition(effective_from=FIRST_EDITION, note="initial load")
        session.add(edition)
        await session.flush()
    listed = set(
        await session.scalars(
            select(CatalogueEntry.disease_id).where(CatalogueEntry.edition_id == edition.id)
        )
    )
    for code, _, admitted in DISEASES:
        if by_code[code].id in listed:
            continue
        session.add(
            CatalogueEntry(
                edition_id=edition.id, disease_id=by_code[code].id, online_admitted=admitted
            )
        )
        for kind, fen in LIMITS.items():
            session.add(
                CatalogueLimit(
                    edition_id=edition.id,
                    disease_id=by_code[code].id,
                    insurance_type=kind,
                    annual_limit_fen=fen,
                )
            )
    await session.flush()
    return edition


async def entitle(
    session: AsyncSession,
    patient: Patient,
    code: str = "M01603",
    *,
    valid_until: date | None = None,
    institution: Institution | None = None,
    diagnosed_year: int | None = None,
) -> Entitlement:
    """An approved application (with the year of diagnosis, if given) and its entitlement
    (valid a year unless told otherwise)."""
    await catalogue(session)
    disease = (await diseases(session))[code]
    hospital = institution or await factories.institution(session)
    today = city_date()
    application = EnrollmentApplication(
        patient_id=patient.id,
        disease_id=disease.id,
        institution_id=hospital.id,
        status="approved",
        submitted_at=utcnow(),
        decided_at=utcnow(),
        diagnosed_year=diagnosed_year,
    )
    session.add(application)
    await session.flush()
    until = valid_until or today + timedelta(days=365)
    entitlement = Entitlement(
        patient_id=patient.id,
        disease_id=disease.id,
        institution_id=hospital.id,
        application_id=application.id,
        valid_from=min(today, until) - timedelta(days=30),
        valid_until=until,
    )
    session.add(entitlement)
    await session.flush()
    return entitlement


async def patient(session: AsyncSession, *codes: str) -> tuple[Account, Patient]:
    """A patient account, entitled for `codes` (none: not entitled)."""
    account = await factories.account(session, Role.patient)
    row = await factories.patient_of(session, account)
    for code in codes:
        await entitle(session, row, code)
    return account, row


async def doctor(
    session: AsyncSession,
    specialties: tuple[str, ...] = ("M01600",),
    *,
    capacity: int = 100,
    presence: str | None = None,
    institution: Institution | None = None,
    title: str | None = None,
) -> tuple[Account, Doctor]:
    """A doctor with the given specialties, capacity, presence, institution and title."""
    account = await factories.account(session, Role.doctor)
    row = await factories.doctor_of(session, account)
    row.specialties = list(specialties)
    if title is not None:
        row.title_zh = title
    row.max_active_patients = capacity
    if institution is not None:
        row.institution_id = institution.id
    session.add(DoctorLoad(doctor_id=row.id, active_patients=0, waiting_consultations=0))
    if presence is not None:
        await set_presence(session, row, presence)
    await session.flush()
    return account, row


async def set_presence(session: AsyncSession, doctor_row: Doctor, status: str) -> None:
    """Make the doctor's presence `status` for the next ten minutes."""
    now = utcnow()
    existing = await session.get(DoctorPresence, doctor_row.id)
    if existing is None:
        existing = DoctorPresence(doctor_id=doctor_row.id)
        session.add(existing)
    existing.status = status
    existing.expires_at = now + timedelta(minutes=10)
    existing.updated_at = now
    await session.flush()


@dataclass(frozen=True)
class ForeignWorld:
    application_id: uuid.UUID
    record_id: uuid.UUID
    request_id: uuid.UUID
    decision_id: uuid.UUID
    team_id: uuid.UUID
    plan_id: uuid.UUID
    follow_up_id: uuid.UUID
    referral_id: uuid.UUID


async def foreign_world(session: AsyncSession) -> ForeignWorld:
    """A stranger patient with a whole care history, and their doctor's team."""
    _, someone = await patient(session, "M01603")
    _, their_doctor = await doctor(session, presence="online")
    care = await factories.care(session, someone, their_doctor)
    application = EnrollmentApplication(
        patient_id=someone.id,
        disease_id=(await diseases(session))["M03902"].id,
        institution_id=their_doctor.institution_id,
        status="draft",
    )
    session.add(application)
    await session.flush()
    record = EnrollmentRecord(
        application_id=application.id,
        blob_key=f"enrollment/{someone.id}/foreign",
        content_type="image/png",
        size_bytes=len(PNG),
        sha256="0" * 64,
        filename="foreign.png",
    )
    now = utcnow()
    decision = AssignmentDecision(
        patient_id=someone.id,
        purpose="consultation",
        doctor_id=their_doctor.id,
        urgency_level=0,
        total_score=1.0,
        candidates_considered=1,
        breakdown={},
        decided_at=now,
    )
    session.add_all([record, decision])
    await session.flush()
    request = ConsultationRequest(
        patient_id=someone.id,
        doctor_id=their_doctor.id,
        status="waiting",
        decision_id=decision.id,
        requested_at=now,
    )
    team = CareTeam(institution_id=their_doctor.institution_id, name="foreign team")
    plan = FollowUpPlan(
        patient_id=someone.id,
        doctor_id=their_doctor.id,
        discharged_on=city_date(),
        interval_days=14,
        review_items=["HbA1c"],
        status="active",
    )
    session.add_all([request, team, plan])
    await session.flush()
    follow_up = FollowUp(
        plan_id=plan.id,
        patient_id=someone.id,
        doctor_id=their_doctor.id,
        sequence=1,
        due_at=now + timedelta(days=14),
        status="scheduled",
    )
    referral = Referral(
        patient_id=someone.id,
        direction="up",
        priority="normal",
        status="requested",
        from_doctor_id=their_doctor.id,
        from_institution_id=their_doctor.institution_id,
        to_institution_id=care.institution_id,
        reason="needs a specialist",
        requested_at=now,
    )
    session.add_all(
        [
            follow_up,
            referral,
            CareTeamMember(team_id=team.id, doctor_id=their_doctor.id, role="family_doctor"),
        ]
    )
    await session.flush()
    return ForeignWorld(
        application.id,
        record.id,
        request.id,
        decision.id,
        team.id,
        plan.id,
        follow_up.id,
        referral.id,
    )
