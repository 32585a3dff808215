"""The refund state machine (its legal transitions in one place) and what applying news did."""

from __future__ import annotations

from enum import StrEnum

from app.errors import Conflict


class Outcome(StrEnum):
    """What a provider's notification (or a follow-up query) changed."""

    applied = "applied"
    duplicate = "duplicate"
    ignored = "ignored"


class RefundStatus(StrEnum):
    # Owed and asked for: online, the request is queued for the provider; cash and card, the
    # courier or the store has yet to hand the money back.
    requested = "requested"
    # The provider accepted the request and has not finished it.
    processing = "processing"
    # The money is back with the patient (provider's word, or staff handed it back).
    succeeded = "succeeded"
    # It did not happen (provider closed or could not pay it, refused the request); staff retry.
    failed = "failed"


REFUND_TRANSITIONS: dict[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.requested: frozenset(
        {RefundStatus.processing, RefundStatus.succeeded, RefundStatus.failed}
    ),
    RefundStatus.processing: frozenset({RefundStatus.succeeded, RefundStatus.failed}),
    # The provider's later word that the money moved after all is the truth (and is booked).
    RefundStatus.failed: frozenset({RefundStatus.succeeded}),
    RefundStatus.succeeded: frozenset(),
}


def can_move(current: str, target: RefundStatus) -> bool:
    """Whether a refund in `current` may move to `target`."""
    return target in REFUND_TRANSITIONS[RefundStatus(current)]


def check_move(current: str, target: RefundStatus) -> None:
    """Refuse (409 refund_transition_illegal) a move the state machine does not allow."""
    if not can_move(current, target):
        raise Conflict("refund_transition_illegal", status=current, target=target.value)
