"""Demo data of enrollment (idempotent): approved applications (under the catalogue's first
edition, loaded by app.demo.seed) and entitlements for the demo patients' conditions, a
reviewer, a family-doctor team, a follow-up plan and the doctors' load counters. DEMO DATA
only."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.care import relationships as relationship_service
from app.care.follow_ups import due_moment
from app.demo import data
from app.kit.clock import city_date, utcnow
from app.kit.repository import every_row, first_by
from app.models import (
    Account,
    CareTeam,
    CareTeamMember,
    CareTeamPatient,
    CatalogueEdition,
    ChronicDisease,
    Doctor,
    EnrollmentApplication,
    EnrollmentReviewer,
    Entitlement,
    FollowUp,
    FollowUpPlan,
    Patient,
)

FIRST_EDITION = date(2020, 5, 28)  # the day the Yangquan online pilot started
TEAM_NAME = "城区家庭医生一组"


async def load_demo_enrollment(
    session: AsyncSession, patients: dict[str, Patient], doctors: dict[str, Doctor]
) -> int:
    """Ensure the issue-4 demo rows exist; how many were inserted."""
    created = 0
    diseases = {d.code: d for d in await every_row(session, ChronicDisease)}
    # The first edition is the city's catalogue, loaded before (app.demo.seed._diseases).
    edition = await first_by(session, CatalogueEdition, effective_from=FIRST_EDITION)
    assert edition is not None, "load the catalogue first"
    # Every institution can take enrollments: its first demo doctor reviews its applications
    # (dr.zhang at the pilot hospital).
    first_at: dict[str, str] = {}
    for doctor_data in data.DOCTORS:
        first_at.setdefault(doctor_data.institution_code, doctor_data.username)
    admin = await first_by(session, Account, username="admin")
    for username in first_at.values():
        reviewer = doctors[username]
        granted = await first_by(session, EnrollmentReviewer, doctor_id=reviewer.id)
        if admin is not None and granted is None:
            session.add(
                EnrollmentReviewer(
                    doctor_id=reviewer.id,
                    institution_id=reviewer.institution_id,
                    granted_by_account_id=admin.id,
                )
            )
            created += 1
    today = city_date()
    for item in data.PATIENTS:
        patient = patients[item.wechat_openid]
        for code in item.conditions:
            found = await first_by(
                session, Entitlement, patient_id=patient.id, disease_id=diseases[code].id
            )
            if found is not None:
                continue
            application = EnrollmentApplication(
                patient_id=patient.id,
                disease_id=diseases[code].id,
                institution_id=reviewer.institution_id,
                status="approved",
                statement="演示：住院病历与化验单已提交",
                submitted_at=utcnow(),
                decided_at=utcnow(),
                decided_by_doctor_id=reviewer.id,
                decision_reason="资料齐全，符合门诊大额疾病认定标准",
                catalogue_edition_id=edition.id,
                diagnosed_year=item.diagnosed_year,
            )
            session.add(application)
            await session.flush()
            session.add(
                Entitlement(
                    patient_id=patient.id,
                    disease_id=diseases[code].id,
                    institution_id=reviewer.institution_id,
                    application_id=application.id,
                    valid_from=today - timedelta(days=60),
                    valid_until=today + timedelta(days=305),
                )
            )
            created += 1
    created += await _team(session, patients, doctors)
    created += await _follow_up(session, patients, doctors)
    await session.flush()
    for doctor in doctors.values():
        await relationship_service.recount_load(session, doctor.id)
    return created


async def _team(
    session: AsyncSession, patients: dict[str, Patient], doctors: dict[str, Doctor]
) -> int:
    team = await first_by(session, CareTeam, name=TEAM_NAME)
    if team is not None:
        return 0
    lead = doctors["dr.zhang"]
    team = CareTeam(institution_id=lead.institution_id, name=TEAM_NAME)
    session.add(team)
    await session.flush()
    roles = {"dr.zhang": "family_doctor", "dr.liu": "health_manager", "dr.chen": "specialist"}
    for username, role in roles.items():
        session.add(CareTeamMember(team_id=team.id, doctor_id=doctors[username].id, role=role))
    patient = patients["demo-openid-patient-2"]
    now = utcnow()
    session.add(CareTeamPatient(team_id=team.id, patient_id=patient.id, joined_at=now))
    await session.flush()
    for username in roles:
        await relationship_service.grant_access(
            session, patient.id, doctors[username].id, "team", now, team.id
        )
    return 1


async def _follow_up(
    session: AsyncSession, patients: dict[str, Patient], doctors: dict[str, Doctor]
) -> int:
    patient = patients["demo-openid-patient-1"]
    if await first_by(session, FollowUpPlan, patient_id=patient.id) is not None:
        return 0
    discharged = city_date() - timedelta(days=12)
    plan = FollowUpPlan(
        patient_id=patient.id,
        doctor_id=doctors["dr.zhang"].id,
        discharged_on=discharged,
        interval_days=14,
        review_items=["糖化血红蛋白", "足部检查", "动态血糖报告"],
        status="active",
    )
    session.add(plan)
    await session.flush()
    session.add(
        FollowUp(
            plan_id=plan.id,
            patient_id=patient.id,
            doctor_id=plan.doctor_id,
            sequence=1,
            due_at=due_moment(discharged + timedelta(days=14)),
            status="scheduled",
        )
    )
    return 1
