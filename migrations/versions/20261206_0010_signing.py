"""doctor-held signing keys: the server's copies of the doctors' private keys are dropped

Signing keys are now generated on the doctor's device; the service keeps public keys only, with
who registered each one (and its proof of possession), who activated it, and when it was
retired or revoked. The keys the service generated before are kept (the prescriptions they
signed stay verifiable), marked `server_legacy` and retired now: they sign nothing new.

Revision ID: 0010_signing
Revises: 0009_readings
Create Date: 2026-12-06 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_signing"
down_revision: str | None = "0009_readings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "doctor_signing_keys"
ACTIVE_INDEX = "uq_doctor_signing_keys_active"


def _on_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _set_aside() -> None:
    """SQLite rebuilds the table (batch mode) while prescriptions reference its rows: move the
    rows out first and check the references at commit, once they are back. (Dropping a table
    that still holds referenced rows would leave SQLite's deferred violation count up.)"""
    op.execute("PRAGMA defer_foreign_keys = ON")
    op.execute("CREATE TABLE _doctor_signing_keys_aside AS SELECT * FROM doctor_signing_keys")
    op.execute("DELETE FROM doctor_signing_keys")


def _bring_back(columns: str, values: str) -> None:
    """Put the set-aside rows back into the rebuilt table (`values` computed from them)."""
    op.execute(
        f"INSERT INTO doctor_signing_keys ({columns}) "  # noqa: S608 - both lists are constants of this file
        f"SELECT {values} FROM _doctor_signing_keys_aside"
    )
    op.execute("DROP TABLE _doctor_signing_keys_aside")


def _one_active_key_per_doctor(where: str) -> None:
    condition = sa.text(where)
    op.create_index(
        ACTIVE_INDEX,
        TABLE,
        ["doctor_id"],
        unique=True,
        sqlite_where=condition,
        postgresql_where=condition,
    )


def _fk(column: str) -> str:
    return op.f(f"fk_{TABLE}_{column}_accounts")


def upgrade() -> None:
    op.drop_index(ACTIVE_INDEX, table_name=TABLE)
    sqlite = _on_sqlite()
    if sqlite:
        _set_aside()
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="pending")
        )
        batch_op.add_column(
            sa.Column("origin", sa.String(length=16), nullable=False, server_default="device")
        )
        batch_op.add_column(sa.Column("device_label", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("registered_by_account_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("registration_proof", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("activated_by_account_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("revoked_by_account_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("revoke_reason", sa.String(length=500), nullable=True))
    # The service-generated keys: active from their creation until now, then retired; their
    # private halves blanked before the column goes.
    op.execute(
        sa.text(
            "UPDATE doctor_signing_keys SET status = 'retired', origin = 'server_legacy', "
            "activated_at = created_at, retired_at = COALESCE(retired_at, CURRENT_TIMESTAMP), "
            "private_key = ''"
        )
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        # The private keys go; nothing in the service can sign for a doctor any more.
        batch_op.drop_column("private_key")
        batch_op.alter_column("status", server_default=None)
        batch_op.alter_column("origin", server_default=None)
        batch_op.create_unique_constraint(op.f(f"uq_{TABLE}_public_key"), ["public_key"])
        batch_op.create_index(op.f(f"ix_{TABLE}_doctor_id"), ["doctor_id"], unique=False)
        for column in ("registered_by_account_id", "activated_by_account_id"):
            batch_op.create_foreign_key(_fk(column), "accounts", [column], ["id"])
        batch_op.create_foreign_key(
            _fk("revoked_by_account_id"), "accounts", ["revoked_by_account_id"], ["id"]
        )
        batch_op.create_check_constraint(
            op.f(f"ck_{TABLE}_status"), "status IN ('pending','active','retired','revoked')"
        )
        batch_op.create_check_constraint(
            op.f(f"ck_{TABLE}_origin"), "origin IN ('device','server_legacy')"
        )
        batch_op.create_check_constraint(
            op.f(f"ck_{TABLE}_activated"),
            "status IN ('pending','revoked') OR activated_at IS NOT NULL",
        )
    if sqlite:
        _bring_back(
            "id, doctor_id, algorithm, public_key, created_at, status, origin, activated_at, "
            "retired_at",
            "id, doctor_id, algorithm, public_key, created_at, 'retired', 'server_legacy', "
            "created_at, COALESCE(retired_at, CURRENT_TIMESTAMP)",
        )
    _one_active_key_per_doctor("status = 'active'")


def downgrade() -> None:
    # The dropped private keys cannot come back: every key is retired, so the previous code
    # generates new server-held keys on the next signature. Device keys' rows stay, inert.
    op.drop_index(ACTIVE_INDEX, table_name=TABLE)
    sqlite = _on_sqlite()
    if sqlite:
        _set_aside()
    op.execute(
        sa.text(
            "UPDATE doctor_signing_keys "
            "SET retired_at = COALESCE(retired_at, revoked_at, CURRENT_TIMESTAMP)"
        )
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_constraint(op.f(f"ck_{TABLE}_activated"), type_="check")
        batch_op.drop_constraint(op.f(f"ck_{TABLE}_origin"), type_="check")
        batch_op.drop_constraint(op.f(f"ck_{TABLE}_status"), type_="check")
        for column in (
            "revoked_by_account_id",
            "activated_by_account_id",
            "registered_by_account_id",
        ):
            batch_op.drop_constraint(_fk(column), type_="foreignkey")
        batch_op.drop_index(op.f(f"ix_{TABLE}_doctor_id"))
        batch_op.drop_constraint(op.f(f"uq_{TABLE}_public_key"), type_="unique")
        batch_op.add_column(
            sa.Column("private_key", sa.String(length=512), nullable=False, server_default="")
        )
        for column in (
            "revoke_reason",
            "revoked_by_account_id",
            "revoked_at",
            "activated_by_account_id",
            "activated_at",
            "registration_proof",
            "registered_by_account_id",
            "device_label",
            "origin",
            "status",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.alter_column("private_key", server_default=None)
    if sqlite:
        _bring_back(
            "id, doctor_id, algorithm, public_key, created_at, retired_at, private_key",
            "id, doctor_id, algorithm, public_key, created_at, "
            "COALESCE(retired_at, revoked_at, CURRENT_TIMESTAMP), ''",
        )
    _one_active_key_per_doctor("retired_at IS NULL")
