"""Orders as each caller may see them: address and phone in full only for the patient and, while
the parcel is on its way, the courier delivering it; the hand-over code only for the patient,
only while it is usable."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.kit.masking import mask_phone
from app.models import (
    Drug,
    OrderTransition,
    PharmacyOrder,
    PharmacyOrderLine,
    Presettlement,
    Settlement,
)
from app.pharmacy import repository as pharmacy_repository
from app.pharmacy.delivery.states import IN_TRANSIT_STATES
from app.pharmacy.schemas import (
    BoxEventOut,
    ColdChainReadingOut,
    CollectOut,
    Coordinates,
    CourierOut,
    OrderLineOut,
    OrderOut,
    OrderTransitionOut,
)

# Decimal places a destination keeps for those who see the address masked (0.01 degree: about
# a kilometre, the block but not the door).
COARSE_DECIMALS = 2

# The code is needed from dispatch (delivery) or picking (pickup at the counter) to hand-over.
HANDOVER_CODE_STATES = frozenset({"picked", "dispatched"})


def mask_address(address: str | None) -> str | None:
    """Keep the first six characters (city and district), hide the rest."""
    if address is None:
        return None
    return address[:6] + "****" if len(address) > 6 else "****"


def reveals_contact(principal: Principal, order: PharmacyOrder) -> bool:
    """Whether the caller needs the address and phone: the patient, or the courier on it while
    it is on its way (once the order is done - delivered, completed, failed, returned ... - the
    courier sees what the store sees)."""
    return principal.patient_id == order.patient_id or (
        order.courier_account_id is not None
        and principal.account_id == order.courier_account_id
        and order.status in IN_TRANSIT_STATES
    )


async def present_order(
    session: AsyncSession, principal: Principal, order: PharmacyOrder
) -> OrderOut:
    """The order as `principal` may see it."""
    return (await present_orders(session, principal, [order]))[0]


def _present(
    principal: Principal,
    order: PharmacyOrder,
    details: pharmacy_repository.OrderDetails,
) -> OrderOut:
    store = details.stores[order.store_id]
    patient = details.patients[order.patient_id]
    courier = details.couriers.get(order.courier_account_id) if order.courier_account_id else None
    boxes = details.boxes.get(order.id, [])
    scanned = Counter(box.drug_id for box in boxes)
    reveal = reveals_contact(principal, order)
    # Positions are the courier's live ones while the parcel is on its way; afterwards the last
    # one (and the GPS of hand-over or failure) is the patient's door: only for those who may
    # see the address.
    positions = reveal or order.status in IN_TRANSIT_STATES
    show_code = principal.patient_id == order.patient_id and order.status in HANDOVER_CODE_STATES
    quote = details.quotes.get(order.id)
    return OrderOut(
        id=order.id,
        status=order.status,
        fulfilment=order.fulfilment,
        prescription_id=order.prescription_id,
        patient_id=order.patient_id,
        patient_name=patient.name,
        store_id=order.store_id,
        store_name_zh=store.name_zh,
        district_code=order.district_code,
        delivery_address=order.delivery_address if reveal else mask_address(order.delivery_address),
        delivery_phone=order.delivery_phone if reveal else mask_phone(order.delivery_phone),
        total_fen=order.total_fen,
        cold_chain=order.cold_chain,
        seal_id=order.seal_id,
        courier=CourierOut(account_id=courier.id, display_name=courier.display_name)
        if courier is not None
        else None,
        handover_code=order.handover_code if show_code else None,
        last_lat=order.last_lat if positions else None,
        last_lng=order.last_lng if positions else None,
        last_located_at=order.last_located_at if positions else None,
        eta_at=order.eta_at,
        destination=_destination(order, exact=reveal),
        lines=[
            _line(line, drug, scanned[drug.id]) for line, drug in details.lines.get(order.id, [])
        ],
        traceability_codes=[box.code for box in boxes],
        traceability_history=[
            BoxEventOut.model_validate(event) for event in details.box_events.get(order.id, [])
        ],
        late_cold_chain_excursion=order.id in details.late_excursions,
        cold_chain_log=[
            ColdChainReadingOut.model_validate(reading)
            for reading in details.cold_chain_logs.get(order.id, [])
        ],
        collect=_collect(order, quote, details.settlements.get(order.id)),
        history=[_transition(row, positions) for row in details.history.get(order.id, [])],
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


def _collect(
    order: PharmacyOrder, quote: Presettlement | None, settlement: Settlement | None
) -> CollectOut | None:
    """What the patient pays: as booked once settled, else as quoted (the platform's quote
    where it pre-settled the order)."""
    paying = order.pay_from_personal_account
    if settlement is not None:
        return CollectOut(
            basis="settlement",
            fund_fen=settlement.fund_fen,
            account_fen=settlement.account_fen,
            cash_fen=settlement.cash_fen,
            pay_from_personal_account=paying,
        )
    if quote is None:
        return None
    if quote.platform_fund_fen is not None:
        return CollectOut(
            basis="platform_presettlement",
            fund_fen=quote.platform_fund_fen,
            account_fen=quote.platform_account_fen or 0,
            cash_fen=quote.platform_cash_fen or 0,
            pay_from_personal_account=paying,
        )
    return CollectOut(
        basis="estimate",
        fund_fen=quote.fund_fen,
        account_fen=quote.account_fen,
        cash_fen=quote.cash_fen,
        pay_from_personal_account=paying,
    )


def _destination(order: PharmacyOrder, *, exact: bool) -> Coordinates:
    if exact:
        return Coordinates(lat=order.destination_lat, lng=order.destination_lng)
    return Coordinates(
        lat=round(order.destination_lat, COARSE_DECIMALS),
        lng=round(order.destination_lng, COARSE_DECIMALS),
    )


def _transition(row: OrderTransition, positions: bool) -> OrderTransitionOut:
    step = OrderTransitionOut.model_validate(row)
    return step if positions else step.model_copy(update={"lat": None, "lng": None})


def _line(line: PharmacyOrderLine, drug: Drug, scanned: int) -> OrderLineOut:
    return OrderLineOut(
        drug_id=drug.id,
        drug_name_zh=drug.generic_name_zh,
        national_code=drug.national_code,
        strength=drug.strength,
        pack=drug.pack,
        packs=line.packs,
        scanned=scanned,
        amount_fen=line.amount_fen,
        cold_chain=drug.cold_chain,
    )


async def present_orders(
    session: AsyncSession, principal: Principal, orders: Sequence[PharmacyOrder]
) -> list[OrderOut]:
    """Several orders as `principal` may see them (a board's worth in a fixed number of
    queries, however many orders)."""
    details = await pharmacy_repository.order_details(session, orders)
    return [_present(principal, order, details) for order in orders]
