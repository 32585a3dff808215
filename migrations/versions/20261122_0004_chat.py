"""chat: conversations, participants, messages, attachments

Revision ID: 0004_chat
Revises: 0003_enrollment
Create Date: 2026-11-22 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_chat"
down_revision: str | None = "0003_enrollment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_conversations",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("care_relationship_id", sa.Uuid(), nullable=True),
        sa.Column("team_key", sa.Uuid(), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=128), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'care' AND care_relationship_id IS NOT NULL AND team_key IS NULL) OR (kind = 'team' AND team_key IS NOT NULL AND care_relationship_id IS NULL)",
            name=op.f("ck_chat_conversations_owner"),
        ),
        sa.CheckConstraint("kind IN ('care','team')", name=op.f("ck_chat_conversations_kind")),
        sa.CheckConstraint("last_seq >= 0", name=op.f("ck_chat_conversations_last_seq")),
        sa.ForeignKeyConstraint(
            ["care_relationship_id"],
            ["care_relationships.id"],
            name=op.f("fk_chat_conversations_care_relationship_id_care_relationships"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_chat_conversations_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_conversations")),
        sa.UniqueConstraint(
            "care_relationship_id", name=op.f("uq_chat_conversations_care_relationship_id")
        ),
        sa.UniqueConstraint("team_key", name=op.f("uq_chat_conversations_team_key")),
    )
    op.create_table(
        "chat_attachments",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("uploader_account_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("blob_key", sa.String(length=255), nullable=False),
        sa.Column("recalled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('image','voice')", name=op.f("ck_chat_attachments_kind")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["chat_conversations.id"],
            name=op.f("fk_chat_attachments_conversation_id_chat_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["uploader_account_id"],
            ["accounts.id"],
            name=op.f("fk_chat_attachments_uploader_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_attachments")),
        sa.UniqueConstraint("blob_key", name=op.f("uq_chat_attachments_blob_key")),
    )
    with op.batch_alter_table("chat_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chat_attachments_conversation_id"), ["conversation_id"], unique=False
        )
    op.create_table(
        "chat_messages",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sender_account_id", sa.Uuid(), nullable=True),
        sa.Column("client_msg_id", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column(
            "body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("recalled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('text','image','voice','card','notice','recall')",
            name=op.f("ck_chat_messages_kind"),
        ),
        sa.CheckConstraint("seq > 0", name=op.f("ck_chat_messages_seq")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["chat_conversations.id"],
            name=op.f("fk_chat_messages_conversation_id_chat_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["sender_account_id"],
            ["accounts.id"],
            name=op.f("fk_chat_messages_sender_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
        sa.UniqueConstraint(
            "conversation_id", "client_msg_id", name="uq_chat_messages_conversation_client_msg"
        ),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_chat_messages_conversation_seq"),
    )
    op.create_table(
        "chat_participants",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("read_seq", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("read_seq >= 0", name=op.f("ck_chat_participants_read_seq")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_chat_participants_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["chat_conversations.id"],
            name=op.f("fk_chat_participants_conversation_id_chat_conversations"),
        ),
        sa.PrimaryKeyConstraint("conversation_id", "account_id", name=op.f("pk_chat_participants")),
    )
    with op.batch_alter_table("chat_participants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chat_participants_account", ["account_id", "left_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("chat_participants", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_participants_account")
    op.drop_table("chat_participants")
    op.drop_table("chat_messages")
    with op.batch_alter_table("chat_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_attachments_conversation_id"))
    op.drop_table("chat_attachments")
    op.drop_table("chat_conversations")
