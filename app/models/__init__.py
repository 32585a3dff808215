"""Every ORM table, re-exported so Alembic's autogenerate sees them all."""

from app.models.account import STAFF_ROLES, Account, Role
from app.models.audit_event import AuditEvent
from app.models.auth_session import AuthSession
from app.models.base import Base
from app.models.care_relationship import CareRelationship
from app.models.chronic_disease import ChronicDisease
from app.models.district import District
from app.models.doctor import Doctor
from app.models.drug import Drug
from app.models.institution import Institution
from app.models.outbox_message import OutboxMessage
from app.models.patient import Patient
from app.models.pharmacy_staff import PharmacyStaff
from app.models.pharmacy_store import PharmacyChain, PharmacyStore, PharmacyStoreCoverage
from app.models.refresh_token import RefreshToken

__all__ = [
    "STAFF_ROLES",
    "Account",
    "AuditEvent",
    "AuthSession",
    "Base",
    "CareRelationship",
    "ChronicDisease",
    "District",
    "Doctor",
    "Drug",
    "Institution",
    "OutboxMessage",
    "Patient",
    "PharmacyChain",
    "PharmacyStaff",
    "PharmacyStore",
    "PharmacyStoreCoverage",
    "RefreshToken",
    "Role",
]
