"""Chat's side of care events: a newly assigned doctor is announced in the care conversation,
an ended relationship closes its conversation, and every patient of a family-doctor team has a
group conversation with the team's current members."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.care import repository as care_repository
from app.chat.conversations import (
    MAX_TITLE_CHARS,
    ensure_care_conversation,
    ensure_team_conversation,
)
from app.chat.runtime import ChatRuntime
from app.chat.sending import post_system_notice
from app.kit.repository import by_id
from app.models import CareRelationship, Doctor, Patient, Prescription

# Group conversations are keyed by (team, patient): the same pair always maps to the same key.
_TEAM_CONVERSATION_NAMESPACE = uuid.UUID("6f1d8c56-5b0e-4c1a-9a57-0c2f7c8f4e11")


async def announce_assignment(
    session: AsyncSession,
    runtime: ChatRuntime,
    relationship: CareRelationship,
    ended: CareRelationship | None,
) -> None:
    """Open the new doctor's conversation with a "doctor assigned" notice; close the old one."""
    if ended is not None:
        await ensure_care_conversation(session, ended.id)
    conversation = await ensure_care_conversation(session, relationship.id)
    doctor = await by_id(session, Doctor, relationship.doctor_id)
    assert doctor is not None
    await post_system_notice(
        session,
        conversation.id,
        "chat_notice_doctor_assigned",
        {"doctor_name": doctor.name},
        runtime=runtime,
        dedupe_key=f"assigned:{relationship.id}",
    )


async def announce_review(
    session: AsyncSession, runtime: ChatRuntime, prescription: Prescription
) -> None:
    """Tell the patient, in the conversation with the prescribing doctor, how review went."""
    care = await care_repository.active_with(
        session, prescription.patient_id, prescription.doctor_id
    )
    reviewed_at = prescription.reviewed_at
    if care is None or reviewed_at is None:
        return
    conversation = await ensure_care_conversation(session, care.id)
    if prescription.status == "approved":
        code, params = "chat_notice_prescription_approved", {}
    else:
        code, params = "chat_notice_prescription_rejected", {"reason": prescription.review_reason}
    await post_system_notice(
        session,
        conversation.id,
        code,
        params,
        runtime=runtime,
        # One notice per review (a revised prescription is reviewed again later).
        dedupe_key=f"rv:{prescription.id.hex}:{int(reviewed_at.timestamp())}",
    )


def team_conversation_key(team_id: uuid.UUID, patient_id: uuid.UUID) -> uuid.UUID:
    """The stable key of a patient's group conversation with a team."""
    return uuid.uuid5(_TEAM_CONVERSATION_NAMESPACE, f"{team_id}:{patient_id}")


async def sync_team_conversations(
    session: AsyncSession,
    team_id: uuid.UUID,
    team_name: str,
    member_account_ids: list[uuid.UUID],
) -> None:
    """Each patient of the team: a group conversation of that patient and the team's members."""
    for patient_id in await care_repository.team_patient_ids(session, team_id):
        await _team_conversation(session, team_id, team_name, patient_id, member_account_ids)


async def leave_team_conversation(
    session: AsyncSession, team_id: uuid.UUID, team_name: str, patient_id: uuid.UUID
) -> None:
    """A patient taken off the team keeps the history; the team's members leave it."""
    await _team_conversation(session, team_id, team_name, patient_id, [])


async def _team_conversation(
    session: AsyncSession,
    team_id: uuid.UUID,
    team_name: str,
    patient_id: uuid.UUID,
    member_account_ids: list[uuid.UUID],
) -> None:
    patient = await by_id(session, Patient, patient_id)
    assert patient is not None
    title = f"{team_name}·{patient.name or '患者'}"[:MAX_TITLE_CHARS]
    await ensure_team_conversation(
        session,
        team_conversation_key(team_id, patient_id),
        [patient.account_id, *member_account_ids],
        title,
    )
