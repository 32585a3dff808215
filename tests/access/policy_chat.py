"""Access policy of the chat endpoints: any signed-in role, but only inside one's own
conversations (someone else's conversation, message or attachment is 404)."""

from __future__ import annotations

from app.chat.conversations import ensure_care_conversation
from app.models import ChatAttachment, Role
from tests.access.rules import ALL, Rule
from tests.fixtures import factories

MINE = Rule(ALL)
THEIRS = Rule(ALL, hidden=True)

POLICY: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/chat/conversations"): MINE,
    ("GET", "/api/v1/chat/unread"): MINE,
    ("POST", "/api/v1/chat/sync"): MINE,
    ("GET", "/api/v1/chat/sync"): MINE,
    ("PUT", "/api/v1/chat/care-conversations/{care_relationship_id}"): THEIRS,
    ("GET", "/api/v1/chat/conversations/{conversation_id}"): THEIRS,
    ("GET", "/api/v1/chat/conversations/{conversation_id}/messages"): THEIRS,
    ("POST", "/api/v1/chat/conversations/{conversation_id}/messages"): THEIRS,
    ("POST", "/api/v1/chat/conversations/{conversation_id}/read"): THEIRS,
    ("POST", "/api/v1/chat/conversations/{conversation_id}/forward"): THEIRS,
    ("POST", "/api/v1/chat/conversations/{conversation_id}/messages/{seq}/recall"): THEIRS,
    ("POST", "/api/v1/chat/conversations/{conversation_id}/attachments"): THEIRS,
    ("GET", "/api/v1/chat/attachments/{attachment_id}"): THEIRS,
}


async def foreign_ids(session) -> dict[str, str]:
    """A conversation between two strangers, with a message and an attachment."""
    patient_account = await factories.account(session, Role.patient)
    doctor_account = await factories.account(session, Role.doctor)
    care = await factories.care(
        session,
        await factories.patient_of(session, patient_account),
        await factories.doctor_of(session, doctor_account),
    )
    conversation = await ensure_care_conversation(session, care.id)
    attachment = ChatAttachment(
        conversation_id=conversation.id,
        uploader_account_id=patient_account.id,
        kind="image",
        content_type="image/png",
        size_bytes=8,
        blob_key=f"chat/{conversation.id}/foreign",
    )
    session.add(attachment)
    await session.flush()
    return {
        "care_relationship_id": str(care.id),
        "conversation_id": str(conversation.id),
        "seq": "1",
        "attachment_id": str(attachment.id),
    }
