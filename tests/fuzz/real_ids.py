"""Ids of real rows, by the path parameter that names them, so the fuzz gets past the 404s."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.chat.conversations import ensure_care_conversation
from app.models import (
    Alert,
    AssignmentDecision,
    CareRelationship,
    CareTeam,
    ChatAttachment,
    ChatConversation,
    ChronicDisease,
    ConsultationRequest,
    Device,
    Doctor,
    DoctorSigningKey,
    Drug,
    EnrollmentApplication,
    EnrollmentRecord,
    FollowUp,
    FollowUpPlan,
    Institution,
    Patient,
    PharmacyOrder,
    PharmacyStore,
    Prescription,
    QualityReturn,
    Referral,
    Settlement,
    Statement,
)

# Path parameter -> the table whose primary key it names.
TABLES = {
    "alert_id": Alert,
    "decision_id": AssignmentDecision,
    "relationship_id": CareRelationship,
    "care_relationship_id": CareRelationship,
    "team_id": CareTeam,
    "attachment_id": ChatAttachment,
    "conversation_id": ChatConversation,
    "consultation_id": ConsultationRequest,
    "disease_id": ChronicDisease,
    "request_id": ConsultationRequest,
    "device_id": Device,
    "doctor_id": Doctor,
    "drug_id": Drug,
    "application_id": EnrollmentApplication,
    "record_id": EnrollmentRecord,
    "follow_up_id": FollowUp,
    "plan_id": FollowUpPlan,
    "institution_id": Institution,
    "key_id": DoctorSigningKey,
    "patient_id": Patient,
    "order_id": PharmacyOrder,
    "store_id": PharmacyStore,
    "prescription_id": Prescription,
    "referral_id": Referral,
    "return_id": QualityReturn,
    "settlement_id": Settlement,
    "statement_id": Statement,
}


async def open_care_conversations(session: AsyncSession) -> None:
    """A chat conversation for every active care relationship (the demo has none yet)."""
    relationships = await session.scalars(
        select(CareRelationship.id).where(CareRelationship.ended_at.is_(None))
    )
    for relationship_id in relationships.all():
        await ensure_care_conversation(session, relationship_id)


async def collect(session: AsyncSession) -> dict[str, list[str]]:
    """For each path parameter, the ids of the rows that exist (sorted, for reproducibility)."""
    found: dict[str, list[str]] = {}
    for name, model in TABLES.items():
        ids = sorted(str(row_id) for row_id in await session.scalars(select(model.id)))
        if ids:
            found[name] = ids
    return found
