"""What happens when: every way one domain's work reaches another, declared in one place.

Domains never call each other's side effects. A service records a fact (app/events.py) and this
module says who reacts, in which phase:

A reading is stored (app/reading/ingest.py)
    ReadingsStored     -> in the transaction: alert rules run on the new readings; a new
                          episode's alert is stored, pushed after commit and sent to the outbox.

A chat message is sent (websocket frame "chat.send", or POST .../messages)
    CLIENT_MESSAGES["chat.send"] -> app/chat/sending.py stores it (idempotent by client_msg_id),
                          pushes it to the participants after commit and queues push
                          notifications in the outbox (OUTBOX: push.notification).

A prescription, from signing to its order and settlement
    signed, reviewed   -> PrescriptionReviewed: in the transaction, the patient is told in the
                          care conversation (chat notice "approved" / "rejected").
    ordered            -> app/pharmacy/orders.py routes it to a store, shows the insurance split
                          (pre-settlement) and tells the store's partner system through the
                          outbox (OUTBOX: partner.webhook; so is a cancelled order).
                          QuoteComputed: in the transaction, where the insurance platform is
                          configured, its pre-settlement (2206) is kept on the quote beside the
                          local estimate (a refusal refuses the order; no answer marks the
                          quote's platform split unavailable).
    order handed over  -> OrderHandedOver: in the transaction, the claim is settled with
                          insurance: on the insurance platform first where one is configured
                          (app/insurance_platform/settlement.py: 2207), whose split is booked,
                          the local estimate kept beside it.
    order moves        -> OrderTransitioned: in the transaction, dispatched (with its
                          ETA), ready for pickup and delivery failed are told to the patient
                          (OUTBOX: push.notification; README "Who hears of what").
    revoked            -> RevocationRequested: in the transaction, before the prescription moves,
                          its open order is cancelled (409 once the boxes are picked).
    reversed           -> SettlementReversed: in the transaction, the platform reverses its
                          settlement (2208) where it made one, and what the patient paid is owed
                          back (OUTBOX: payment.refund sends it); the reversal is counted in
                          the settlement metrics once it commits (app/metrics).

Care changes
    DoctorAssigned     -> the care conversation opens with a "doctor assigned" notice; the
                          replaced doctor's conversation closes.
    PatientLeftTeam, CareTeamChanged -> the team's group conversations follow the team.

The same module supplies what subscribers need from the process (the settings, the realtime hub,
the chat runtime) as one typed `Runtime`, found from the session of the unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import app.alert.messages
import app.analytics.messages
import app.assignment.messages
import app.care.messages
import app.catalogue.messages
import app.chat.messages
import app.device.messages
import app.doctor.messages
import app.ecg.messages
import app.enrollment.messages
import app.health.messages
import app.insurance.messages
import app.insurance_platform.messages
import app.nightscout.messages
import app.payment.messages
import app.pharmacy.delivery.messages
import app.pharmacy.messages
import app.pharmacy.returns.messages
import app.prescription.messages
import app.reading.messages
from app import events
from app.alert import service as alert_service
from app.assignment import realtime as assignment_realtime
from app.assignment.facts import DoctorAssigned
from app.care.facts import CareTeamChanged, PatientLeftTeam
from app.chat import care_events as chat_care_events
from app.chat import socket as chat_socket
from app.chat.runtime import ChatRuntime, chat_runtime
from app.config import Settings
from app.db import app_state_of
from app.insurance.facts import QuoteComputed, SettlementReversed
from app.insurance_platform import settlement as platform_settlement
from app.insurance_platform.client import InsurancePlatform
from app.metrics import counters as domain_metrics
from app.models import PlatformSettlement, Settlement
from app.notify.provider import wechat_push_provider
from app.outbox.handlers import HandlerFactory
from app.outbox.push import PushProviderFactory
from app.payment.refunds import PAYMENT_REFUND, payment_refund_handler, refund_reversed
from app.pharmacy.delivery import notifications as delivery_notifications
from app.pharmacy.delivery import service as delivery_service
from app.pharmacy.delivery import settlement_link
from app.pharmacy.delivery.facts import OrderHandedOver, OrderTransitioned
from app.pharmacy.delivery.states import Actor
from app.pharmacy.webhooks import PARTNER_WEBHOOK, partner_webhook_handler
from app.prescription.facts import PrescriptionReviewed, RevocationRequested
from app.reading.facts import ReadingsStored
from app.realtime import handlers as realtime_handlers
from app.realtime.handlers import ClientHandler, ConnectionHook
from app.realtime.hub import RealtimeHub

# The people-facing texts (problem details, chat notices, chart labels) of every domain;
# importing a catalogue registers its codes with app/i18n.py.
MESSAGE_CATALOGUES: tuple[ModuleType, ...] = (
    app.alert.messages,
    app.analytics.messages,
    app.assignment.messages,
    app.care.messages,
    app.catalogue.messages,
    app.chat.messages,
    app.pharmacy.delivery.messages,
    app.device.messages,
    app.doctor.messages,
    app.ecg.messages,
    app.enrollment.messages,
    app.health.messages,
    app.insurance.messages,
    app.insurance_platform.messages,
    app.nightscout.messages,
    app.payment.messages,
    app.pharmacy.messages,
    app.pharmacy.returns.messages,
    app.prescription.messages,
    app.reading.messages,
)

# Outbox kinds the domains add to the outbox's own (push.notification, http.post); the web
# process and the standalone relay (`python -m app.outbox`) both deliver all of them.
OUTBOX_KINDS: Mapping[str, HandlerFactory] = {
    PAYMENT_REFUND: payment_refund_handler,
    PARTNER_WEBHOOK: partner_webhook_handler,
}

# PUSH_PROVIDER values beside the outbox's own "log": WeChat subscription messages with an SMS
# fallback (app/notify), which read each recipient's address when they send.
PUSH_PROVIDERS: Mapping[str, PushProviderFactory] = {"wechat": wechat_push_provider}

# Client-to-server websocket frames, by type (app/realtime/gateway.py dispatches them).
CLIENT_MESSAGES: Mapping[str, ClientHandler] = {
    "chat.send": chat_socket.send,
    "chat.recall": chat_socket.recall,
    "chat.read": chat_socket.read,
    "chat.sync": chat_socket.sync,
    "chat.changes": chat_socket.changes,
    "chat.forward": chat_socket.forward,
    "chat.typing": chat_socket.typing,
    "presence.update": assignment_realtime.presence_update,
}
ON_CONNECT: tuple[ConnectionHook, ...] = ()
# A doctor app's socket closing takes the doctor offline and hands their waiting patients on.
ON_DISCONNECT: tuple[ConnectionHook, ...] = (assignment_realtime.doctor_app_closed,)


@dataclass(frozen=True)
class Runtime:
    """What subscribers need from the process serving the unit of work."""

    settings: Settings
    hub: RealtimeHub
    chat: ChatRuntime


def runtime(session: AsyncSession) -> Runtime:
    """The runtime of the application whose unit of work `session` is."""
    state = app_state_of(session)
    return Runtime(state.settings, state.hub, chat_runtime(state))


async def raise_alerts(session: AsyncSession, event: ReadingsStored) -> None:
    """Alert rules on newly stored readings."""
    process = runtime(session)
    await alert_service.evaluate(
        session, process.settings, process.hub, event.patient_id, event.rows, event.has_open_episode
    )


async def refund_reversal(session: AsyncSession, event: SettlementReversed) -> None:
    await refund_reversed(session, event.original, event.reversal)


def insurance_platform(session: AsyncSession) -> InsurancePlatform | None:
    """The platform the application of this unit of work settles with (None where it is not
    configured, and for work done outside an application: the demo seed, service tests)."""
    try:
        state = app_state_of(session)
    except RuntimeError:
        return None
    platform: InsurancePlatform | None = getattr(state, "insurance_platform", None)
    return platform


async def settle_at_hand_over(session: AsyncSession, event: OrderHandedOver) -> None:
    """Hand-over settles the claim. Where the insurance platform is configured it settles it
    first (2207, in the same transaction: a refusal fails the hand-over), its split is what is
    booked, and a split other than the local estimate is flagged for the bureau."""
    platform = insurance_platform(session)
    if platform is None:
        await settlement_link.settle_at_hand_over(session, event.order)
        return

    async def on_platform(
        session: AsyncSession, draft: Settlement, items: Sequence[dict[str, Any]]
    ) -> PlatformSettlement:
        return await platform_settlement.settle(session, platform, draft, items)

    settled = await settlement_link.settle_at_hand_over(session, event.order, on_platform)
    await platform_settlement.flag_difference(session, settled)


async def presettle_on_platform(session: AsyncSession, event: QuoteComputed) -> None:
    """Where the insurance platform is configured, a quote carries its pre-settlement (2206)
    beside the local estimate (in the same transaction: a refusal refuses the quote)."""
    platform = insurance_platform(session)
    if platform is not None:
        await platform_settlement.presettle(session, platform, event.quote)


async def reverse_on_platform(session: AsyncSession, event: SettlementReversed) -> None:
    """A reversal is reversed on the platform too (2208) where it settled the original."""
    platform = insurance_platform(session)
    if platform is not None:
        await platform_settlement.reverse(session, platform, event.original, event.reversal)


async def count_reversal(session: AsyncSession, event: SettlementReversed) -> None:
    """A reversal counts in the settlement metrics (app/metrics) once it commits."""
    domain_metrics.count_settlement(session, event.reversal)


async def announce_review(session: AsyncSession, event: PrescriptionReviewed) -> None:
    """Tell the patient in chat how review went."""
    await chat_care_events.announce_review(session, runtime(session).chat, event.prescription)


async def cancel_revoked_order(session: AsyncSession, event: RevocationRequested) -> None:
    """Cancel the open order of a prescription being revoked."""
    await delivery_service.cancel_for_revocation(
        session, runtime(session).hub, event.prescription, Actor.of(event.by), event.reason
    )


async def announce_assignment(session: AsyncSession, event: DoctorAssigned) -> None:
    """Open the new doctor's conversation with a notice; close the replaced one."""
    await chat_care_events.announce_assignment(
        session, runtime(session).chat, event.relationship, event.ended
    )


async def leave_team_conversation(session: AsyncSession, event: PatientLeftTeam) -> None:
    """A patient taken off a team: its members leave the patient's group conversation."""
    await chat_care_events.leave_team_conversation(
        session, event.team_id, event.team_name, event.patient_id
    )


async def sync_team_conversations(session: AsyncSession, event: CareTeamChanged) -> None:
    """Each patient of a changed team: a group conversation with its current members."""
    await chat_care_events.sync_team_conversations(
        session, event.team_id, event.team_name, list(event.member_account_ids)
    )


def wire(dispatcher: events.Dispatcher = events.dispatcher) -> None:
    """Declare every subscription and install the websocket handlers (once per process)."""
    if dispatcher.wired:
        return
    # A reading is stored.
    dispatcher.in_transaction(ReadingsStored, raise_alerts)
    # A prescription: reviewed, revoked; its order handed over.
    dispatcher.in_transaction(PrescriptionReviewed, announce_review)
    dispatcher.in_transaction(RevocationRequested, cancel_revoked_order)
    dispatcher.in_transaction(OrderHandedOver, settle_at_hand_over)
    dispatcher.in_transaction(QuoteComputed, presettle_on_platform)
    dispatcher.in_transaction(OrderTransitioned, delivery_notifications.tell_patient)
    # A settlement reversed: the patient's payments are owed back.
    dispatcher.in_transaction(SettlementReversed, reverse_on_platform)
    dispatcher.in_transaction(SettlementReversed, refund_reversal)
    dispatcher.in_transaction(SettlementReversed, count_reversal)
    # Care: a new doctor, a team's changes.
    dispatcher.in_transaction(DoctorAssigned, announce_assignment)
    dispatcher.in_transaction(PatientLeftTeam, leave_team_conversation)
    dispatcher.in_transaction(CareTeamChanged, sync_team_conversations)
    realtime_handlers.install(CLIENT_MESSAGES, ON_CONNECT, ON_DISCONNECT)
    dispatcher.wired = True
