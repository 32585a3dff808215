"""Card messages: a link to a product object, which the sender must be allowed to share.

A card names its object by `ref_id`; readers open it through that object's own endpoint:

| card_type | ref_id names | opened with |
| --- | --- | --- |
| `readings_summary` | the patient | `GET /api/v1/patients/{id}/cgm-summary`, `.../bp-summary` |
| `agp_chart` | the patient | `GET /api/v1/patients/{id}/charts/agp.svg` |
| `prescription` | a prescription | `GET /api/v1/prescriptions/{id}` |
| `delivery` | a pharmacy order | `GET /api/v1/orders/{id}` |
| `bill` | a settlement | `GET /api/v1/payments/settlements/{id}/bill` |

The object must be one the sender sees through that endpoint's own scope and, in a care
conversation, belong to its patient: nobody can post a card of another patient's data (or
probe which ids exist). Anything else is 404 `chat_card_not_found`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.authz.scopes import patient_scope
from app.chat import repository as chat_repository
from app.chat.schemas import CardIn, CardType
from app.errors import NotFound
from app.insurance.repository import settlement_scope
from app.kit.clock import utcnow
from app.models import ChatConversation, Patient, PharmacyOrder, Prescription, Settlement
from app.pharmacy.repository import order_scope
from app.prescription import repository as rx_repository


async def _patient(session: AsyncSession, principal: Principal) -> ColumnElement[bool]:
    return patient_scope(principal, Patient.id, utcnow())


async def _prescription(session: AsyncSession, principal: Principal) -> ColumnElement[bool]:
    return await rx_repository.scope(session, principal)


async def _order(session: AsyncSession, principal: Principal) -> ColumnElement[bool]:
    return order_scope(principal)


async def _settlement(session: AsyncSession, principal: Principal) -> ColumnElement[bool]:
    return settlement_scope(principal, utcnow())


Scope = Callable[[AsyncSession, Principal], Awaitable[ColumnElement[bool]]]

# Each card type's object and the scope its own endpoint reads it through.
_OBJECTS: dict[CardType, tuple[type[Any], Scope]] = {
    "readings_summary": (Patient, _patient),
    "agp_chart": (Patient, _patient),
    "prescription": (Prescription, _prescription),
    "delivery": (PharmacyOrder, _order),
    "bill": (Settlement, _settlement),
}


async def check_shareable(
    session: AsyncSession, principal: Principal, conversation: ChatConversation, card: CardIn
) -> None:
    """Refuse (404) a card whose object the sender may not share in this conversation."""
    model, scope = _OBJECTS[card.card_type]
    patient_id = await chat_repository.object_patient(
        session, model, card.ref_id, await scope(session, principal)
    )
    if patient_id is None or (
        conversation.patient_id is not None and patient_id != conversation.patient_id
    ):
        raise NotFound("chat_card_not_found")
