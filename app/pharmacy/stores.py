"""A store's stock counts (its staff) and its partner-system integration (admins)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import NotFound
from app.kit.repository import by_id
from app.models import Drug, PharmacyStock, PharmacyStore, StoreIntegration
from app.pharmacy import repository, webhooks
from app.pharmacy.schemas import IntegrationIn


async def set_stock(
    session: AsyncSession, store_id: uuid.UUID, drug_id: uuid.UUID, quantity: int
) -> PharmacyStock:
    """Record a stock count of one drug at the store (404 for a drug not in the catalogue)."""
    if await by_id(session, Drug, drug_id) is None:
        raise NotFound("drug_not_found")
    return await repository.set_stock(session, store_id, drug_id, quantity)


async def put_integration(
    session: AsyncSession, settings: Settings, store_id: uuid.UUID, body: IntegrationIn
) -> StoreIntegration:
    """Route the store's orders to the partner's system (404 for an unknown store; 422
    `webhook_target_not_public` for a URL that must resolve to public addresses only)."""
    if await by_id(session, PharmacyStore, store_id) is None:
        raise NotFound("store_not_found")
    await webhooks.check_target(settings, body.webhook_url)
    return await repository.put_integration(
        session, store_id, body.webhook_url, body.secret, body.is_active
    )
