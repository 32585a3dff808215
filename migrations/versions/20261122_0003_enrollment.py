"""enrollment: catalogue editions, applications, entitlements, doctors' hours/presence/load,
assignment decisions, the consultation queue, care teams, follow-ups, referrals; care
relationships gain team_id, ended_reason, a kind check and one active primary per patient

Revision ID: 0003_enrollment
Revises: 0002_readings
Create Date: 2026-11-22 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_enrollment"
down_revision: str | None = "0002_readings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "catalogue_editions",
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("published_by_account_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["published_by_account_id"],
            ["accounts.id"],
            name=op.f("fk_catalogue_editions_published_by_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_editions")),
        sa.UniqueConstraint("effective_from", name=op.f("uq_catalogue_editions_effective_from")),
    )
    op.create_table(
        "care_teams",
        sa.Column("institution_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_care_teams_institution_id_institutions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_teams")),
    )
    with op.batch_alter_table("care_teams", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_care_teams_institution_id"), ["institution_id"], unique=False
        )

    op.create_table(
        "catalogue_entries",
        sa.Column("edition_id", sa.Uuid(), nullable=False),
        sa.Column("disease_id", sa.Uuid(), nullable=False),
        sa.Column("online_admitted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["disease_id"],
            ["chronic_diseases.id"],
            name=op.f("fk_catalogue_entries_disease_id_chronic_diseases"),
        ),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["catalogue_editions.id"],
            name=op.f("fk_catalogue_entries_edition_id_catalogue_editions"),
        ),
        sa.PrimaryKeyConstraint("edition_id", "disease_id", name=op.f("pk_catalogue_entries")),
    )
    op.create_table(
        "catalogue_limits",
        sa.Column("edition_id", sa.Uuid(), nullable=False),
        sa.Column("disease_id", sa.Uuid(), nullable=False),
        sa.Column("insurance_type", sa.String(length=3), nullable=False),
        sa.Column("annual_limit_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "insurance_type IN ('310','390')", name=op.f("ck_catalogue_limits_insurance_type")
        ),
        sa.CheckConstraint(
            "annual_limit_fen >= 0", name=op.f("ck_catalogue_limits_limit_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["disease_id"],
            ["chronic_diseases.id"],
            name=op.f("fk_catalogue_limits_disease_id_chronic_diseases"),
        ),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["catalogue_editions.id"],
            name=op.f("fk_catalogue_limits_edition_id_catalogue_editions"),
        ),
        sa.PrimaryKeyConstraint(
            "edition_id", "disease_id", "insurance_type", name=op.f("pk_catalogue_limits")
        ),
    )
    op.create_table(
        "assignment_decisions",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("requested_institution_id", sa.Uuid(), nullable=True),
        sa.Column("urgency_level", sa.SmallInteger(), nullable=False),
        sa.Column("total_score", sa.Double(), nullable=False),
        sa.Column("candidates_considered", sa.Integer(), nullable=False),
        sa.Column(
            "breakdown",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_account_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "purpose IN ('enrollment','consultation','change_doctor','transfer','handoff')",
            name=op.f("ck_assignment_decisions_purpose"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_account_id"],
            ["accounts.id"],
            name=op.f("fk_assignment_decisions_decided_by_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_assignment_decisions_doctor_id_doctors")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_assignment_decisions_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_institution_id"],
            ["institutions.id"],
            name=op.f("fk_assignment_decisions_requested_institution_id_institutions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_decisions")),
    )
    with op.batch_alter_table("assignment_decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assignment_decisions_patient_time", ["patient_id", "decided_at"], unique=False
        )

    op.create_table(
        "care_team_members",
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "role IN ('family_doctor','health_manager','specialist')",
            name=op.f("ck_care_team_members_role"),
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_care_team_members_doctor_id_doctors")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["care_teams.id"], name=op.f("fk_care_team_members_team_id_care_teams")
        ),
        sa.PrimaryKeyConstraint("team_id", "doctor_id", name=op.f("pk_care_team_members")),
    )
    with op.batch_alter_table("care_team_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_care_team_members_doctor_id"), ["doctor_id"], unique=False
        )
        batch_op.create_index(
            "uq_care_team_members_family_doctor",
            ["team_id"],
            unique=True,
            sqlite_where=sa.text("role = 'family_doctor'"),
            postgresql_where=sa.text("role = 'family_doctor'"),
        )

    op.create_table(
        "care_team_patients",
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_care_team_patients_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["care_teams.id"], name=op.f("fk_care_team_patients_team_id_care_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_team_patients")),
    )
    with op.batch_alter_table("care_team_patients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_care_team_patients_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            "uq_care_team_patients_active",
            ["team_id", "patient_id"],
            unique=True,
            sqlite_where=sa.text("left_at IS NULL"),
            postgresql_where=sa.text("left_at IS NULL"),
        )

    op.create_table(
        "doctor_loads",
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("active_patients", sa.Integer(), nullable=False),
        sa.Column("waiting_consultations", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "active_patients >= 0", name=op.f("ck_doctor_loads_active_not_negative")
        ),
        sa.CheckConstraint(
            "waiting_consultations >= 0", name=op.f("ck_doctor_loads_waiting_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_doctor_loads_doctor_id_doctors")
        ),
        sa.PrimaryKeyConstraint("doctor_id", name=op.f("pk_doctor_loads")),
    )
    op.create_table(
        "doctor_presence",
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "status IN ('online','busy','offline')", name=op.f("ck_doctor_presence_status")
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_doctor_presence_doctor_id_doctors")
        ),
        sa.PrimaryKeyConstraint("doctor_id", name=op.f("pk_doctor_presence")),
    )
    with op.batch_alter_table("doctor_presence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_doctor_presence_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "doctor_working_hours",
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("starts_at", sa.Time(), nullable=False),
        sa.Column("ends_at", sa.Time(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_doctor_working_hours_order")),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_doctor_working_hours_weekday")),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_doctor_working_hours_doctor_id_doctors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_doctor_working_hours")),
    )
    with op.batch_alter_table("doctor_working_hours", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_doctor_working_hours_doctor_id"), ["doctor_id"], unique=False
        )

    op.create_table(
        "enrollment_applications",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("disease_id", sa.Uuid(), nullable=False),
        sa.Column("institution_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("statement", sa.String(length=1000), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_doctor_id", sa.Uuid(), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("catalogue_edition_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft','pending','approved','rejected','withdrawn')",
            name=op.f("ck_enrollment_applications_status"),
        ),
        sa.ForeignKeyConstraint(
            ["catalogue_edition_id"],
            ["catalogue_editions.id"],
            name=op.f("fk_enrollment_applications_catalogue_edition_id_catalogue_editions"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_doctor_id"],
            ["doctors.id"],
            name=op.f("fk_enrollment_applications_decided_by_doctor_id_doctors"),
        ),
        sa.ForeignKeyConstraint(
            ["disease_id"],
            ["chronic_diseases.id"],
            name=op.f("fk_enrollment_applications_disease_id_chronic_diseases"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_enrollment_applications_institution_id_institutions"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_enrollment_applications_patient_id_patients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment_applications")),
        sa.UniqueConstraint("patient_id", "idempotency_key", name="uq_enrollment_applications_key"),
    )
    with op.batch_alter_table("enrollment_applications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enrollment_applications_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            "ix_enrollment_applications_queue",
            ["institution_id", "status", "submitted_at"],
            unique=False,
        )
        batch_op.create_index(
            "uq_enrollment_applications_open",
            ["patient_id", "disease_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('draft','pending')"),
            postgresql_where=sa.text("status IN ('draft','pending')"),
        )

    op.create_table(
        "enrollment_reviewers",
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("institution_id", sa.Uuid(), nullable=False),
        sa.Column("granted_by_account_id", sa.Uuid(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_enrollment_reviewers_doctor_id_doctors")
        ),
        sa.ForeignKeyConstraint(
            ["granted_by_account_id"],
            ["accounts.id"],
            name=op.f("fk_enrollment_reviewers_granted_by_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_enrollment_reviewers_institution_id_institutions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment_reviewers")),
    )
    with op.batch_alter_table("enrollment_reviewers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enrollment_reviewers_institution_id"), ["institution_id"], unique=False
        )
        batch_op.create_index(
            "uq_enrollment_reviewers_active",
            ["doctor_id", "institution_id"],
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )

    op.create_table(
        "follow_up_plans",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("discharged_on", sa.Date(), nullable=False),
        sa.Column("interval_days", sa.Integer(), nullable=False),
        sa.Column(
            "review_items",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active','ended')", name=op.f("ck_follow_up_plans_status")),
        sa.CheckConstraint(
            "interval_days BETWEEN 1 AND 365", name=op.f("ck_follow_up_plans_interval")
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_follow_up_plans_doctor_id_doctors")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_follow_up_plans_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_plans")),
    )
    with op.batch_alter_table("follow_up_plans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_follow_up_plans_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "consultation_requests",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("urgency_level", sa.SmallInteger(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("decision_id", sa.Uuid(), nullable=False),
        sa.Column("care_relationship_id", sa.Uuid(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handoffs", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "status IN ('waiting','in_consultation','completed','cancelled')",
            name=op.f("ck_consultation_requests_status"),
        ),
        sa.ForeignKeyConstraint(
            ["care_relationship_id"],
            ["care_relationships.id"],
            name=op.f("fk_consultation_requests_care_relationship_id_care_relationships"),
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["assignment_decisions.id"],
            name=op.f("fk_consultation_requests_decision_id_assignment_decisions"),
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_consultation_requests_doctor_id_doctors")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_consultation_requests_patient_id_patients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_requests")),
        sa.UniqueConstraint("patient_id", "idempotency_key", name="uq_consultation_requests_key"),
    )
    with op.batch_alter_table("consultation_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consultation_requests_queue", ["doctor_id", "status", "urgency_level"], unique=False
        )
        batch_op.create_index(
            "uq_consultation_requests_open",
            ["patient_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('waiting','in_consultation')"),
            postgresql_where=sa.text("status IN ('waiting','in_consultation')"),
        )

    op.create_table(
        "enrollment_records",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("blob_key", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=128), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["enrollment_applications.id"],
            name=op.f("fk_enrollment_records_application_id_enrollment_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment_records")),
        sa.UniqueConstraint("blob_key", name=op.f("uq_enrollment_records_blob_key")),
    )
    with op.batch_alter_table("enrollment_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enrollment_records_application_id"), ["application_id"], unique=False
        )

    op.create_table(
        "entitlements",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("disease_id", sa.Uuid(), nullable=False),
        sa.Column("institution_id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "valid_until >= valid_from", name=op.f("ck_entitlements_validity_order")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["enrollment_applications.id"],
            name=op.f("fk_entitlements_application_id_enrollment_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["disease_id"],
            ["chronic_diseases.id"],
            name=op.f("fk_entitlements_disease_id_chronic_diseases"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_entitlements_institution_id_institutions"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_entitlements_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entitlements")),
        sa.UniqueConstraint("application_id", name=op.f("uq_entitlements_application_id")),
    )
    with op.batch_alter_table("entitlements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_entitlements_patient_validity", ["patient_id", "valid_until"], unique=False
        )

    op.create_table(
        "follow_ups",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome_note", sa.String(length=1000), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('scheduled','completed','missed','cancelled')",
            name=op.f("ck_follow_ups_status"),
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_follow_ups_doctor_id_doctors")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_follow_ups_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["follow_up_plans.id"], name=op.f("fk_follow_ups_plan_id_follow_up_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
    )
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_follow_ups_doctor_due", ["doctor_id", "status", "due_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_follow_ups_plan_id"), ["plan_id"], unique=False)
        batch_op.create_index(
            "ix_follow_ups_reminder", ["status", "reminded_at", "due_at"], unique=False
        )

    op.create_table(
        "referrals",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("from_doctor_id", sa.Uuid(), nullable=False),
        sa.Column("from_institution_id", sa.Uuid(), nullable=False),
        sa.Column("to_institution_id", sa.Uuid(), nullable=False),
        sa.Column("to_doctor_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("care_relationship_id", sa.Uuid(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("direction IN ('up','down')", name=op.f("ck_referrals_direction")),
        sa.CheckConstraint("priority IN ('normal','priority')", name=op.f("ck_referrals_priority")),
        sa.CheckConstraint(
            "status IN ('requested','accepted','rejected','completed','cancelled')",
            name=op.f("ck_referrals_status"),
        ),
        sa.ForeignKeyConstraint(
            ["care_relationship_id"],
            ["care_relationships.id"],
            name=op.f("fk_referrals_care_relationship_id_care_relationships"),
        ),
        sa.ForeignKeyConstraint(
            ["from_doctor_id"], ["doctors.id"], name=op.f("fk_referrals_from_doctor_id_doctors")
        ),
        sa.ForeignKeyConstraint(
            ["from_institution_id"],
            ["institutions.id"],
            name=op.f("fk_referrals_from_institution_id_institutions"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_referrals_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["to_doctor_id"], ["doctors.id"], name=op.f("fk_referrals_to_doctor_id_doctors")
        ),
        sa.ForeignKeyConstraint(
            ["to_institution_id"],
            ["institutions.id"],
            name=op.f("fk_referrals_to_institution_id_institutions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("from_doctor_id", "idempotency_key", name="uq_referrals_key"),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_referrals_from_doctor_id"), ["from_doctor_id"], unique=False
        )
        batch_op.create_index(
            "ix_referrals_incoming", ["to_institution_id", "status", "priority"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_referrals_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(
            "uq_referrals_open",
            ["patient_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('requested','accepted')"),
            postgresql_where=sa.text("status IN ('requested','accepted')"),
        )

    with op.batch_alter_table("care_relationships", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("ended_reason", sa.String(length=32), nullable=True))
        batch_op.create_index(
            "uq_care_relationships_one_primary",
            ["patient_id"],
            unique=True,
            sqlite_where=sa.text("kind = 'primary' AND ended_at IS NULL"),
            postgresql_where=sa.text("kind = 'primary' AND ended_at IS NULL"),
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_care_relationships_team_id_care_teams"),
            "care_teams",
            ["team_id"],
            ["id"],
        )
        batch_op.create_check_constraint("kind", "kind IN ('primary','team','consult','referral')")


def downgrade() -> None:

    with op.batch_alter_table("care_relationships", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_care_relationships_kind"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_care_relationships_team_id_care_teams"), type_="foreignkey"
        )
        batch_op.drop_index(
            "uq_care_relationships_one_primary",
            sqlite_where=sa.text("kind = 'primary' AND ended_at IS NULL"),
            postgresql_where=sa.text("kind = 'primary' AND ended_at IS NULL"),
        )
        batch_op.drop_column("ended_reason")
        batch_op.drop_column("team_id")

    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_referrals_open",
            sqlite_where=sa.text("status IN ('requested','accepted')"),
            postgresql_where=sa.text("status IN ('requested','accepted')"),
        )
        batch_op.drop_index(batch_op.f("ix_referrals_patient_id"))
        batch_op.drop_index("ix_referrals_incoming")
        batch_op.drop_index(batch_op.f("ix_referrals_from_doctor_id"))

    op.drop_table("referrals")
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.drop_index("ix_follow_ups_reminder")
        batch_op.drop_index(batch_op.f("ix_follow_ups_plan_id"))
        batch_op.drop_index("ix_follow_ups_doctor_due")

    op.drop_table("follow_ups")
    with op.batch_alter_table("entitlements", schema=None) as batch_op:
        batch_op.drop_index("ix_entitlements_patient_validity")

    op.drop_table("entitlements")
    with op.batch_alter_table("enrollment_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrollment_records_application_id"))

    op.drop_table("enrollment_records")
    with op.batch_alter_table("consultation_requests", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_consultation_requests_open",
            sqlite_where=sa.text("status IN ('waiting','in_consultation')"),
            postgresql_where=sa.text("status IN ('waiting','in_consultation')"),
        )
        batch_op.drop_index("ix_consultation_requests_queue")

    op.drop_table("consultation_requests")
    with op.batch_alter_table("follow_up_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_up_plans_patient_id"))

    op.drop_table("follow_up_plans")
    with op.batch_alter_table("enrollment_reviewers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_enrollment_reviewers_active",
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_enrollment_reviewers_institution_id"))

    op.drop_table("enrollment_reviewers")
    with op.batch_alter_table("enrollment_applications", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_enrollment_applications_open",
            sqlite_where=sa.text("status IN ('draft','pending')"),
            postgresql_where=sa.text("status IN ('draft','pending')"),
        )
        batch_op.drop_index("ix_enrollment_applications_queue")
        batch_op.drop_index(batch_op.f("ix_enrollment_applications_patient_id"))

    op.drop_table("enrollment_applications")
    with op.batch_alter_table("doctor_working_hours", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_doctor_working_hours_doctor_id"))

    op.drop_table("doctor_working_hours")
    with op.batch_alter_table("doctor_presence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_doctor_presence_expires_at"))

    op.drop_table("doctor_presence")
    op.drop_table("doctor_loads")
    with op.batch_alter_table("care_team_patients", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_care_team_patients_active",
            sqlite_where=sa.text("left_at IS NULL"),
            postgresql_where=sa.text("left_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_care_team_patients_patient_id"))

    op.drop_table("care_team_patients")
    with op.batch_alter_table("care_team_members", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_care_team_members_family_doctor",
            sqlite_where=sa.text("role = 'family_doctor'"),
            postgresql_where=sa.text("role = 'family_doctor'"),
        )
        batch_op.drop_index(batch_op.f("ix_care_team_members_doctor_id"))

    op.drop_table("care_team_members")
    with op.batch_alter_table("assignment_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_assignment_decisions_patient_time")

    op.drop_table("assignment_decisions")
    op.drop_table("catalogue_limits")
    op.drop_table("catalogue_entries")
    with op.batch_alter_table("care_teams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_teams_institution_id"))

    op.drop_table("care_teams")
    op.drop_table("catalogue_editions")
