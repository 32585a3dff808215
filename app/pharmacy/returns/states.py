"""The quality return's state machine, declared once, and who takes each step.

requested -> accepted | rejected | withdrawn;  accepted -> completed | rejected | withdrawn.
Rejected, withdrawn and completed are final. Once a box has come back, the return can only be
completed (the store holds the boxes; the patient cannot withdraw, the store cannot refuse).
"""

from __future__ import annotations

from enum import StrEnum

from app.kit.states import StateMachine, moves
from app.models import Role


class ReturnStatus(StrEnum):
    requested = "requested"  # opened by the patient or the store, with a reason
    accepted = "accepted"  # the store's pharmacist agrees: the boxes may come back
    rejected = "rejected"  # the store's pharmacist refuses, with a reason
    withdrawn = "withdrawn"  # the patient no longer wants it
    completed = "completed"  # every box back; settlement reversed, personal share refunded


R = ReturnStatus
RETURN_MACHINE = StateMachine(
    "quality_return",
    R.requested,
    moves(
        (R.requested, {R.accepted, R.rejected, R.withdrawn}),
        (R.accepted, {R.completed, R.rejected, R.withdrawn}),
    ),
)

# The one role that may move a return into each state (scope decides which returns: the
# patient their own, a pharmacist their store's).
ACTOR_OF: dict[ReturnStatus, Role] = {
    R.accepted: Role.pharmacist,
    R.rejected: Role.pharmacist,
    R.withdrawn: Role.patient,
    R.completed: Role.pharmacist,
}

# Boxes are checked back in only while the return is accepted.
RECEIVING = frozenset({R.accepted})
