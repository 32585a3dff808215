"""Doctors' signing keys: registered by the doctor, activated by an admin, rotated, revoked.

Two acts by two people put a key into use, each audited: the doctor's app registers a public
key it generated, with a signature proving it holds the private half (only a doctor can
register, and only for themselves; no endpoint lets anyone else do it), and an admin activates
it after reading its fingerprint back from the doctor's app. Activating a doctor's new key
retires the previous one. A retired or revoked key signs nothing new; what it signed while it
was active stays verifiable. Doctors revoke their own keys (a lost phone), admins any key.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.doctor import repository as doctor_repository
from app.errors import Conflict, NotFound
from app.kit.clock import utcnow
from app.kit.sql import add_unique
from app.kit.states import StateMachine, moves
from app.models import DoctorSigningKey, Role
from app.prescription import repository as rx_repository
from app.prescription import signing
from app.prescription.schemas import SigningKeyCreate

RESOURCE = "doctor_signing_key"
# Keys registered and waiting for an admin; more is someone (or something) flooding the queue.
MAX_PENDING_KEYS = 3


class KeyStatus(StrEnum):
    pending = "pending"  # registered by the doctor, not yet activated
    active = "active"  # the doctor's one key that signs
    retired = "retired"  # replaced by a newer key: verifies what it signed, signs nothing new
    revoked = "revoked"  # withdrawn (lost, compromised, refused): signs nothing new


KEY_MACHINE = StateMachine(
    "signing_key",
    KeyStatus.pending,
    moves(
        (KeyStatus.pending, {KeyStatus.active, KeyStatus.revoked}),
        (KeyStatus.active, {KeyStatus.retired, KeyStatus.revoked}),
        (KeyStatus.retired, {KeyStatus.revoked}),
    ),
)


async def _audit(
    session: AsyncSession, principal: Principal, key: DoctorSigningKey, action: AuditAction
) -> None:
    await audit_service.record(session, principal, action, RESOURCE, key.id, None)


async def register(
    session: AsyncSession, principal: Principal, body: SigningKeyCreate
) -> DoctorSigningKey:
    """The calling doctor registers a key their device generated (pending until activated)."""
    assert principal.doctor_id is not None
    if not signing.is_acceptable_public_key(body.public_key):
        raise Conflict("signing_key_invalid")
    statement = signing.registration_statement(principal.doctor_id, body.public_key)
    if not signing.signature_valid(body.public_key, statement, body.proof):
        raise Conflict("signing_key_proof_invalid")
    # Serialises one doctor's registrations, so the pending cap holds under concurrency.
    await doctor_repository.lock_doctor(session, principal.doctor_id)
    if await rx_repository.count_pending_signing_keys(session, principal.doctor_id) >= (
        MAX_PENDING_KEYS
    ):
        raise Conflict("signing_key_pending_limit", max=MAX_PENDING_KEYS)
    key = DoctorSigningKey(
        doctor_id=principal.doctor_id,
        algorithm=body.algorithm,
        public_key=body.public_key,
        status=KeyStatus.pending,
        origin="device",
        device_label=body.device_label,
        registered_by_account_id=principal.account_id,
        registration_proof=body.proof,
    )
    if not await add_unique(session, key):
        raise Conflict("signing_key_exists")
    await _audit(session, principal, key, AuditAction.create)
    return key


async def list_own(session: AsyncSession, principal: Principal) -> Sequence[DoctorSigningKey]:
    """The calling doctor's keys, newest first."""
    assert principal.doctor_id is not None
    return await rx_repository.list_signing_keys(session, principal.doctor_id, None, 200)


async def list_keys(
    session: AsyncSession,
    doctor_id: uuid.UUID | None,
    status: str | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> Sequence[DoctorSigningKey]:
    """Keys of every doctor (admin), e.g. those waiting for activation."""
    return await rx_repository.list_signing_keys(session, doctor_id, status, limit, after)


async def _locked(
    session: AsyncSession, key_id: uuid.UUID, owner: uuid.UUID | None = None
) -> DoctorSigningKey:
    """The key (of doctor `owner` when given, else 404), row-locked after its doctor's row:
    every change to a doctor's keys takes the locks in that order."""
    key = await rx_repository.signing_key(session, key_id)
    if key is None or (owner is not None and key.doctor_id != owner):
        raise NotFound()
    await doctor_repository.lock_doctor(session, key.doctor_id)
    locked = await rx_repository.signing_key(session, key_id, lock=True)
    assert locked is not None, "keys are never deleted"
    return locked


async def activate(
    session: AsyncSession, principal: Principal, key_id: uuid.UUID, fingerprint: str
) -> DoctorSigningKey:
    """An admin activates a key the doctor registered, once the fingerprint the doctor's app
    shows matches; the doctor's previous active key is retired."""
    key = await _locked(session, key_id)
    KEY_MACHINE.check(KeyStatus(key.status), KeyStatus.active)
    if fingerprint != signing.fingerprint(key.public_key):
        raise Conflict("signing_key_fingerprint_mismatch")
    now = utcnow()
    previous = await rx_repository.active_signing_key(session, key.doctor_id, lock=True)
    if previous is not None:
        KEY_MACHINE.check(KeyStatus(previous.status), KeyStatus.retired)
        previous.status = KeyStatus.retired
        previous.retired_at = now
        await session.flush()  # one active key per doctor: the old one steps down first
        await _audit(session, principal, previous, AuditAction.update)
    key.status = KeyStatus.active
    key.activated_at = now
    key.activated_by_account_id = principal.account_id
    await session.flush()
    await _audit(session, principal, key, AuditAction.update)
    return key


async def revoke(
    session: AsyncSession, principal: Principal, key_id: uuid.UUID, reason: str
) -> DoctorSigningKey:
    """Revoke a key: an admin any key, a doctor only their own (anyone else's is 404)."""
    owner = principal.doctor_id if principal.role == Role.doctor else None
    key = await _locked(session, key_id, owner)
    KEY_MACHINE.check(KeyStatus(key.status), KeyStatus.revoked)
    key.status = KeyStatus.revoked
    key.revoked_at = utcnow()
    key.revoked_by_account_id = principal.account_id
    key.revoke_reason = reason
    await session.flush()
    await _audit(session, principal, key, AuditAction.update)
    return key


async def active_key(session: AsyncSession, doctor_id: uuid.UUID) -> DoctorSigningKey:
    """The doctor's active key; 409 signing_key_missing until an admin has activated one."""
    key = await rx_repository.active_signing_key(session, doctor_id)
    if key is None:
        raise Conflict("signing_key_missing")
    return key
