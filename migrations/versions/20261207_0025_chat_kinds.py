"""chat as WeChat users expect it: file, video and location messages, quotes and forwards

Attachments may be files and videos, keep a file's name and have room for Office types. Messages may be files, videos and
locations; they name the attachment they carry (filled in from the bodies already stored, so a
forwarded copy can share a file by reference), the message they quote and the one they forward.

Revision ID: 0025_chat_kinds
Revises: 0024_disease_course
Create Date: 2026-12-07 07:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_chat_kinds"
down_revision: str | None = "0024_disease_course"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_MESSAGE_KINDS = "kind IN ('text','image','voice','card','notice','recall')"
_MESSAGE_KINDS = (
    "kind IN ('text','image','voice','file','video','location','card','notice','recall')"
)
_OLD_ATTACHMENT_KINDS = "kind IN ('image','voice')"
_ATTACHMENT_KINDS = "kind IN ('image','voice','file','video')"
_CARRIES = "attachment_id IS NOT NULL"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Revision 0008 read chat_messages through a server-side cursor that stays open for
        # the rest of a one-transaction upgrade; PostgreSQL will not alter a table under one.
        op.execute("CLOSE ALL")
    with op.batch_alter_table("chat_attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("file_name", sa.String(length=128), nullable=True))
        # Office types are longer than 64 characters (the presentation one is 73).
        batch_op.alter_column(
            "content_type", existing_type=sa.String(length=64), type_=sa.String(length=128)
        )
        batch_op.drop_constraint(op.f("ck_chat_attachments_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_chat_attachments_kind"), _ATTACHMENT_KINDS)

    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attachment_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("reply_to_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("forwarded_from_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_chat_messages_attachment_id_chat_attachments"),
            "chat_attachments",
            ["attachment_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            op.f("fk_chat_messages_reply_to_id_chat_messages"),
            "chat_messages",
            ["reply_to_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            op.f("fk_chat_messages_forwarded_from_id_chat_messages"),
            "chat_messages",
            ["forwarded_from_id"],
            ["id"],
        )
        batch_op.drop_constraint(op.f("ck_chat_messages_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_chat_messages_kind"), _MESSAGE_KINDS)
    # The attachment of every image and voice message already stored, from its body (SQLite
    # keeps a UUID as 32 hex digits, the body as the dashed text form).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE chat_messages SET attachment_id = (body->>'attachment_id')::uuid "
            "WHERE kind IN ('image','voice')"
        )
    else:
        op.execute(
            "UPDATE chat_messages "
            "SET attachment_id = replace(json_extract(body, '$.attachment_id'), '-', '') "
            "WHERE kind IN ('image','voice')"
        )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chat_messages_attachment",
            ["attachment_id"],
            unique=False,
            sqlite_where=sa.text(_CARRIES),
            postgresql_where=sa.text(_CARRIES),
        )


def downgrade() -> None:
    op.execute("DELETE FROM chat_messages WHERE kind IN ('file','video','location')")
    op.execute("DELETE FROM chat_attachments WHERE kind IN ('file','video')")
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_messages_attachment")
        batch_op.drop_constraint(op.f("ck_chat_messages_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_chat_messages_kind"), _OLD_MESSAGE_KINDS)
        batch_op.drop_constraint(
            op.f("fk_chat_messages_forwarded_from_id_chat_messages"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            op.f("fk_chat_messages_reply_to_id_chat_messages"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            op.f("fk_chat_messages_attachment_id_chat_attachments"), type_="foreignkey"
        )
        batch_op.drop_column("forwarded_from_id")
        batch_op.drop_column("reply_to_id")
        batch_op.drop_column("attachment_id")

    with op.batch_alter_table("chat_attachments", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_chat_attachments_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_chat_attachments_kind"), _OLD_ATTACHMENT_KINDS)
        batch_op.alter_column(
            "content_type", existing_type=sa.String(length=128), type_=sa.String(length=64)
        )
        batch_op.drop_column("file_name")
