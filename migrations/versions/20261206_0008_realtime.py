"""chat integrity: server-made idempotency keys apart from client ids; unsent attachments

Notices and recalls took their idempotency key from the clients' namespace (`notice:<key>`,
`recall:<seq>` in `client_msg_id`), so a participant could send a message under a recall's key
first and block the recall. Their keys move to `server_key`; `client_msg_id` is NULL for them.
Attachments record when a message first carried them (`sent_at`, filled in from the messages
already stored) and when the expiry job claimed an unsent one (`expired_at`).

Revision ID: 0008_realtime
Revises: 0007_assignment_speed
Create Date: 2026-12-06 10:00:00.000000
"""

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_realtime"
down_revision: str | None = "0007_assignment_speed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SERVER_KINDS = "kind IN ('notice','recall')"
_UNSENT = "sent_at IS NULL"

# Just the columns the data steps touch, as they are at this revision.
_messages = sa.table(
    "chat_messages",
    sa.column("id", sa.Uuid()),
    sa.column("conversation_id", sa.Uuid()),
    sa.column("client_msg_id", sa.String(80)),
    sa.column("server_key", sa.String(80)),
    sa.column("kind", sa.String(8)),
    sa.column("body", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_attachments = sa.table(
    "chat_attachments",
    sa.column("id", sa.Uuid()),
    sa.column("sent_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("server_key", sa.String(length=80), nullable=True))
        batch_op.alter_column("client_msg_id", existing_type=sa.String(length=80), nullable=True)
    # Every notice and recall ever stored was keyed by the server: its key moves over. A
    # client's message whose id merely looks like one ("recall:3" as text) stays the client's.
    op.execute(
        _messages.update()
        .where(sa.text(_SERVER_KINDS))
        .values(server_key=_messages.c.client_msg_id, client_msg_id=None)
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_chat_messages_conversation_server_key", ["conversation_id", "server_key"]
        )
        batch_op.create_check_constraint(
            op.f("ck_chat_messages_one_idempotency_key"),
            "(client_msg_id IS NULL) <> (server_key IS NULL)",
        )
        batch_op.create_check_constraint(
            op.f("ck_chat_messages_server_key_kind"),
            f"({_SERVER_KINDS}) = (server_key IS NOT NULL)",
        )

    with op.batch_alter_table("chat_attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True))
    _backfill_sent_at()
    with op.batch_alter_table("chat_attachments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chat_attachments_unsent",
            ["uploader_account_id", "created_at"],
            unique=False,
            sqlite_where=sa.text(_UNSENT),
            postgresql_where=sa.text(_UNSENT),
        )


def _backfill_sent_at() -> None:
    """An attachment was sent when the first image or voice message carrying it was stored."""
    connection = op.get_bind()
    first_sent: dict[Any, Any] = {}
    rows = connection.execute(
        sa.select(_messages.c.body, _messages.c.created_at)
        .where(_messages.c.kind.in_(("image", "voice")))
        .execution_options(yield_per=1000)
    )
    for body, created_at in rows:
        attachment_id = (body or {}).get("attachment_id")
        if attachment_id is None:
            continue
        earlier = first_sent.get(attachment_id)
        if earlier is None or created_at < earlier:
            first_sent[attachment_id] = created_at
    if first_sent:
        connection.execute(
            _attachments.update()
            .where(_attachments.c.id == sa.bindparam("attachment_id"))
            .values(sent_at=sa.bindparam("first_sent_at")),
            [
                {"attachment_id": uuid.UUID(str(attachment_id)), "first_sent_at": at}
                for attachment_id, at in first_sent.items()
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("chat_attachments", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_attachments_unsent")
        batch_op.drop_column("expired_at")
        batch_op.drop_column("sent_at")

    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_chat_messages_server_key_kind"), type_="check")
        batch_op.drop_constraint(op.f("ck_chat_messages_one_idempotency_key"), type_="check")
        batch_op.drop_constraint("uq_chat_messages_conversation_server_key", type_="unique")
    # Back into the shared namespace; where a client took the same id meanwhile (the clash
    # this revision removed), the server's row gets a key of its own.
    other = _messages.alias("other")
    clash = (
        sa.select(sa.literal(1))
        .where(
            other.c.conversation_id == _messages.c.conversation_id,
            other.c.client_msg_id == _messages.c.server_key,
        )
        .exists()
    )
    op.execute(
        _messages.update()
        .where(_messages.c.server_key.is_not(None), ~clash)
        .values(client_msg_id=_messages.c.server_key)
    )
    op.execute(
        _messages.update()
        .where(_messages.c.client_msg_id.is_(None))
        .values(client_msg_id=sa.literal("server:") + sa.cast(_messages.c.id, sa.String(36)))
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.alter_column("client_msg_id", existing_type=sa.String(length=80), nullable=False)
        batch_op.drop_column("server_key")
