"""The migration that separates the server's message keys from client ids keeps existing rows
valid: notices and recalls move to `server_key`, client messages keep their ids (even ones that
look like a server key), attachments already sent get `sent_at`; and it goes back down."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.config import Settings
from app.db import create_engine
from app.models import Account, ChatAttachment, ChatConversation, ChatMessage
from tests.fixtures import databases

BEFORE = "0007_assignment_speed"
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)

# The tables as the models have them now: an INSERT names only the columns it is given, all of
# which exist at the revision before.
accounts = Account.__table__
conversations = ChatConversation.__table__
messages = ChatMessage.__table__
attachments = ChatAttachment.__table__


@pytest.fixture
async def old_database() -> AsyncIterator[str]:
    """A database at the revision before, holding chat rows as the old code wrote them."""
    url = await databases.create_database()
    await databases.migrate(url, BEFORE)
    yield url
    await databases.drop_database(url)


async def _execute(url: str, *statements: sa.Executable) -> list[sa.Row]:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.begin() as connection:
            rows: list[sa.Row] = []
            for statement in statements:
                result = await connection.execute(statement)
                if result.returns_rows:
                    rows.extend(result.all())
            return rows
    finally:
        await engine.dispose()


async def test_existing_chat_rows_stay_valid_up_and_down(old_database: str) -> None:
    patient, conversation = uuid.uuid4(), uuid.uuid4()
    sent, unsent = uuid.uuid4(), uuid.uuid4()
    rows = [
        # seq, sender, client_msg_id, kind, body
        (1, patient, "c-1", "text", {"text": "你好"}),
        (2, None, "notice:care-started", "notice", {"code": "chat_notice_care_ended"}),
        (3, patient, "recall:1", "text", {"text": "looks like a recall key"}),
        (4, patient, "recall:3", "recall", {"recalled_seq": 3}),
        (5, patient, "img-1", "image", {"attachment_id": str(sent)}),
    ]
    await _execute(
        old_database,
        accounts.insert().values(
            id=patient,
            role="patient",
            display_name="患者",
            wechat_openid=f"o-{patient.hex}",
            is_active=True,
            created_at=T0,
        ),
        conversations.insert().values(
            id=conversation, kind="team", team_key=uuid.uuid4(), last_seq=5, created_at=T0
        ),
        *[
            messages.insert().values(
                id=uuid.uuid4(),
                conversation_id=conversation,
                seq=seq,
                sender_account_id=sender,
                client_msg_id=client_msg_id,
                kind=kind,
                body=body,
                created_at=T0 + timedelta(minutes=seq),
            )
            for seq, sender, client_msg_id, kind, body in rows
        ],
        *[
            attachments.insert().values(
                id=attachment_id,
                conversation_id=conversation,
                uploader_account_id=patient,
                kind="image",
                content_type="image/png",
                size_bytes=10,
                blob_key=f"chat/{attachment_id.hex}",
                created_at=T0,
            )
            for attachment_id in (sent, unsent)
        ],
    )

    await databases.migrate(old_database)
    keys = await _execute(
        old_database,
        sa.text("SELECT seq, client_msg_id, server_key FROM chat_messages ORDER BY seq"),
    )
    assert [tuple(row) for row in keys] == [
        (1, "c-1", None),
        (2, None, "notice:care-started"),
        (3, "recall:1", None),
        (4, None, "recall:3"),
        (5, "img-1", None),
    ]
    sent_at = dict(await _execute(old_database, sa.select(attachments.c.id, attachments.c.sent_at)))
    assert sent_at[sent] == T0 + timedelta(minutes=5)  # when the image message was stored
    assert sent_at[unsent] is None

    await databases.downgrade(old_database, BEFORE)
    restored = await _execute(
        old_database, sa.text("SELECT seq, client_msg_id FROM chat_messages ORDER BY seq")
    )
    assert [tuple(row) for row in restored] == [(seq, cid) for seq, _, cid, _, _ in rows]
