"""The prescription state machine, declared once, and the one function that moves a
prescription through it (recording who, when and why)."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import utcnow
from app.kit.states import StateMachine, moves
from app.models import Prescription, PrescriptionTransition


class RxStatus(StrEnum):
    draft = "draft"
    pending_review = "pending_review"  # signed by the doctor, waiting for the pharmacist
    rejected = "rejected"  # returned to the doctor with the pharmacist's reason
    approved = "approved"  # the patient may now choose a store
    ordered = "ordered"  # an order at a store holds it
    dispensed = "dispensed"  # boxes scanned out of the store: used, can no longer be revoked
    revoked = "revoked"


PRESCRIPTION_MACHINE = StateMachine(
    "prescription",
    RxStatus.draft,
    moves(
        (RxStatus.draft, {RxStatus.pending_review, RxStatus.revoked}),
        (RxStatus.pending_review, {RxStatus.approved, RxStatus.rejected, RxStatus.revoked}),
        (RxStatus.rejected, {RxStatus.draft, RxStatus.revoked}),
        (RxStatus.approved, {RxStatus.ordered, RxStatus.revoked}),
        # Back to approved when its order is cancelled before dispensing.
        (RxStatus.ordered, {RxStatus.approved, RxStatus.dispensed, RxStatus.revoked}),
    ),
)

# States whose content carries the doctor's signature (everything after signing).
SIGNED_STATES = frozenset(
    {
        RxStatus.pending_review,
        RxStatus.approved,
        RxStatus.ordered,
        RxStatus.dispensed,
    }
)


async def move(
    session: AsyncSession,
    prescription: Prescription,
    target: RxStatus,
    actor_account_id: uuid.UUID | None,
    reason: str | None = None,
) -> None:
    """Move `prescription` to `target` if the machine allows it (else 409, nothing changed)."""
    source = RxStatus(prescription.status)
    PRESCRIPTION_MACHINE.check(source, target)
    prescription.status = target
    session.add(
        PrescriptionTransition(
            prescription_id=prescription.id,
            from_status=source,
            to_status=target,
            actor_account_id=actor_account_id,
            at=utcnow(),
            reason=reason,
        )
    )
    await session.flush()


async def record_creation(
    session: AsyncSession, prescription: Prescription, actor_account_id: uuid.UUID
) -> None:
    """The first history row of a new prescription (no previous state)."""
    session.add(
        PrescriptionTransition(
            prescription_id=prescription.id,
            from_status=None,
            to_status=prescription.status,
            actor_account_id=actor_account_id,
            at=utcnow(),
        )
    )
    await session.flush()
