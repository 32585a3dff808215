"""Creating conversations for care relationships and family-doctor teams, syncing membership.

Other domains call these when a care relationship starts or ends and when a team changes; both
are idempotent, so calling them again (or concurrently) is always safe.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.chat import repository as chat_repository
from app.errors import NotFound
from app.kit.clock import utcnow
from app.kit.repository import by_id
from app.models import CareRelationship, ChatConversation

MAX_TITLE_CHARS = 128


async def ensure_care_conversation(
    session: AsyncSession, care_relationship_id: uuid.UUID
) -> ChatConversation:
    """The conversation of a care relationship, with its patient and doctor as participants.

    Once the relationship has ended the conversation is closed (read-only) and the doctor
    leaves it; the patient keeps their history.
    """
    care = await by_id(session, CareRelationship, care_relationship_id)
    if care is None:
        raise NotFound()
    now = utcnow()
    conversation = await chat_repository.find_conversation(session, "care_relationship_id", care.id)
    created = False
    if conversation is None:
        conversation, created = await chat_repository.create_conversation(
            session,
            {
                "id": uuid.uuid4(),
                "kind": "care",
                "care_relationship_id": care.id,
                "patient_id": care.patient_id,
                "last_seq": 0,
                "created_at": now,
            },
            "care_relationship_id",
        )
    patient_account, doctor_account = await chat_repository.care_accounts(session, care.id)
    members = {patient_account: "patient", doctor_account: "doctor"}
    if care.ended_at is not None and care.ended_at <= now:
        if conversation.closed_at is None:
            conversation.closed_at = care.ended_at
        del members[doctor_account]
    await _sync_members(session, conversation, members, new=created)
    return conversation


async def ensure_team_conversation(
    session: AsyncSession,
    team_key: uuid.UUID,
    member_account_ids: Sequence[uuid.UUID],
    title: str,
) -> ChatConversation:
    """The group conversation of a family-doctor team; its members become exactly these."""
    if not 0 < len(title) <= MAX_TITLE_CHARS:
        raise ValueError(f"team conversation title must be 1-{MAX_TITLE_CHARS} characters")
    conversation = await chat_repository.find_conversation(session, "team_key", team_key)
    created = False
    if conversation is None:
        conversation, created = await chat_repository.create_conversation(
            session,
            {
                "id": uuid.uuid4(),
                "kind": "team",
                "team_key": team_key,
                "title": title,
                "last_seq": 0,
                "created_at": utcnow(),
            },
            "team_key",
        )
    conversation.title = title
    roles = await chat_repository.roles_of(session, list(dict.fromkeys(member_account_ids)))
    missing = set(member_account_ids) - set(roles)
    if missing:
        raise ValueError(f"unknown accounts for the team conversation: {sorted(map(str, missing))}")
    await _sync_members(session, conversation, roles, new=created)
    return conversation


async def _sync_members(
    session: AsyncSession,
    conversation: ChatConversation,
    members: dict[uuid.UUID, str],
    *,
    new: bool,
) -> None:
    """Make the active participants exactly `members` (account -> role); a conversation this
    call created (`new`) has none yet."""
    now = utcnow()
    participants = [] if new else await chat_repository.all_participants(session, conversation.id)
    current = {p.account_id: p for p in participants}
    for account_id, participant in current.items():
        if account_id in members and participant.left_at is not None:
            participant.left_at = None
            # What was said while they were away is not "unread" to them.
            participant.read_seq = max(participant.read_seq, conversation.last_seq)
        elif account_id not in members and participant.left_at is None:
            participant.left_at = now
    await chat_repository.add_participants_ignoring(
        session,
        [
            {
                "conversation_id": conversation.id,
                "account_id": account_id,
                "role": role,
                "read_seq": conversation.last_seq,
                "joined_at": now,
                "left_at": None,
            }
            for account_id, role in members.items()
            if account_id not in current
        ],
    )
    await session.flush()
