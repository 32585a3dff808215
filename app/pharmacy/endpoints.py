"""Pharmacy endpoints: store proposals and orders (patient), the store's orders, stock and
couriers (store staff), partner integration (admin) and partner callbacks (signed, public)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status

from app.authz.principal import Principal, require_roles
from app.db import DbSession
from app.errors import AppError, Forbidden, NotFound
from app.idempotency import RequiredOrderKey
from app.kit.clock import SHANGHAI
from app.kit.pagination import PageQuery
from app.kit.time_bounds import CalendarDate
from app.models import Role
from app.openapi_contract import raw_json_body
from app.pharmacy import callbacks, orders, stores, webhooks
from app.pharmacy import repository as pharmacy_repository
from app.pharmacy.delivery import geo
from app.pharmacy.schemas import (
    CallbackAck,
    Coordinates,
    CourierList,
    CourierOut,
    Fulfilment,
    IntegrationIn,
    IntegrationOut,
    MyStoreOut,
    OrderCreate,
    OrderOut,
    OrderPage,
    PartnerCallbackIn,
    ProposalList,
    StockIn,
    StockList,
    StockOut,
    StoreProposal,
)
from app.pharmacy.views import present_order, present_orders

router = APIRouter(prefix="/api/v1", tags=["pharmacy"])

PatientOnly = Annotated[Principal, require_roles(Role.patient)]
Admin = Annotated[Principal, require_roles(Role.admin)]
StorePharmacist = Annotated[Principal, require_roles(Role.pharmacist)]
OrderReader = Annotated[Principal, require_roles(Role.patient, Role.pharmacist, Role.courier)]
StoreStaff = Annotated[Principal, require_roles(Role.pharmacist, Role.courier)]
# A search is a few characters typed on the board, not a document.
SEARCH_MAX_LENGTH = 32


class CreatedRangeReversed(AppError):
    status = 422
    code = "created_range_reversed"


def _city_day_start(day: date) -> datetime:
    """When a calendar day in the pilot city begins, in UTC."""
    return datetime.combine(day, time(), SHANGHAI).astimezone(UTC)


def _store_of(principal: Principal) -> uuid.UUID:
    """The caller's store; a pharmacist who is not on a store's staff has none (403)."""
    if principal.store_id is None:
        raise Forbidden("not_store_staff")
    return principal.store_id


@router.get(
    "/prescriptions/{prescription_id}/store-proposals",
    response_model=ProposalList,
    tags=["prescriptions"],
)
async def propose_stores(
    prescription_id: uuid.UUID,
    principal: PatientOnly,
    session: DbSession,
    page: PageQuery,
    fulfilment: Fulfilment = "delivery",
) -> ProposalList:
    """Stores of the partner chain that cover my district and hold every drug in stock (in
    the order they are proposed: my district's first)."""
    district, proposals = await orders.propose(session, principal, prescription_id)
    found = page.page_in_order(
        [
            StoreProposal(
                store_id=p.store.id,
                code=p.store.code,
                name_zh=p.store.name_zh,
                address_zh=p.store.address_zh,
                district_code=p.store.district_code,
                same_district=p.same_district,
                partner_system=p.partner_system,
            )
            for p in proposals
        ],
        lambda s: s.store_id,
    )
    return ProposalList(
        district_code=district.code,
        district_name_zh=district.name_zh,
        fulfilment=fulfilment,
        items=found.items,
        next=found.next,
    )


@router.post("/orders", response_model=OrderOut, status_code=status.HTTP_201_CREATED)
async def create_order(
    body: OrderCreate,
    principal: PatientOnly,
    request: Request,
    session: DbSession,
    idempotency_key: RequiredOrderKey,
) -> OrderOut:
    """Order my approved prescription from the store I chose (delivery or pickup)."""
    order = await orders.create_order(
        session, request.app.state.hub, principal, body, idempotency_key
    )
    return await present_order(session, principal, order)


@router.get("/orders", response_model=OrderPage)
async def list_orders(
    principal: OrderReader,
    session: DbSession,
    page: PageQuery,
    status_filter: Annotated[list[str] | None, Query(alias="status")] = None,
    created_from: Annotated[
        CalendarDate | None,
        Query(description="First day (Asia/Shanghai) the order was placed on, inclusive"),
    ] = None,
    created_to: Annotated[
        CalendarDate | None,
        Query(description="Last day (Asia/Shanghai) the order was placed on, inclusive"),
    ] = None,
    courier: Annotated[
        uuid.UUID | None, Query(description="Only orders given to this courier account")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=SEARCH_MAX_LENGTH,
            description="Search: the leading hex digits of the order id, or part of the "
            "patient's name (the address and phone, masked for the store, are not searched)",
        ),
    ] = None,
) -> OrderPage:
    """My orders (patient) or my store's orders (store staff), newest first, narrowed by state,
    the days they were placed on, courier and a search; 422 `created_range_reversed` when
    `created_from` falls after `created_to`."""
    if created_from is not None and created_to is not None and created_from > created_to:
        raise CreatedRangeReversed()
    narrowed = pharmacy_repository.OrderFilter(
        statuses=status_filter or [],
        created_from=_city_day_start(created_from) if created_from else None,
        created_before=_city_day_start(created_to + timedelta(days=1)) if created_to else None,
        courier_account_id=courier,
        search=q.strip() or None if q else None,
    )
    resume = page.after(datetime, uuid.UUID)
    rows = await orders.list_orders(
        session,
        principal,
        narrowed,
        page.limit,
        (resume[0], resume[1]) if resume else None,
    )
    found = page.page(rows, lambda o: (o.created_at, o.id))
    return OrderPage(items=await present_orders(session, principal, found.items), next=found.next)


@router.get("/orders/{order_id}", response_model=OrderOut)
async def get_order(order_id: uuid.UUID, principal: OrderReader, session: DbSession) -> OrderOut:
    """One order with its lines, scanned codes and every step it went through."""
    order = await orders.get_order(session, principal, order_id)
    return await present_order(session, principal, order)


@router.get("/pharmacy/store", response_model=MyStoreOut)
async def my_store(principal: StoreStaff, session: DbSession) -> MyStoreOut:
    """The store I work at (the board's header and map)."""
    row = await pharmacy_repository.store(session, _store_of(principal))
    if row is None:
        raise NotFound()
    district = await pharmacy_repository.district(session, row.district_code)
    lat, lng = geo.centre_of(row.district_code)
    return MyStoreOut(
        id=row.id,
        code=row.code,
        name_zh=row.name_zh,
        address_zh=row.address_zh,
        district_code=row.district_code,
        district_name_zh=district.name_zh if district is not None else row.district_code,
        location=Coordinates(lat=lat, lng=lng),
    )


@router.get("/pharmacy/stock", response_model=StockList)
async def list_stock(principal: StorePharmacist, session: DbSession, page: PageQuery) -> StockList:
    """My store's stock, by drug."""
    rows = await pharmacy_repository.store_stock(session, _store_of(principal))
    found = page.page_in_order([StockOut.model_validate(row) for row in rows], lambda s: s.drug_id)
    return StockList(items=found.items, next=found.next)


@router.put("/pharmacy/stock/{drug_id}", response_model=StockOut)
async def set_stock(
    drug_id: uuid.UUID, body: StockIn, principal: StorePharmacist, session: DbSession
) -> StockOut:
    """Record a stock count of one drug at my store."""
    row = await stores.set_stock(session, _store_of(principal), drug_id, body.quantity)
    return StockOut.model_validate(row)


@router.get("/pharmacy/couriers", response_model=CourierList)
async def list_couriers(
    principal: StorePharmacist, session: DbSession, page: PageQuery
) -> CourierList:
    """My store's couriers (to dispatch to)."""
    rows = await pharmacy_repository.couriers_of(session, _store_of(principal))
    found = page.page_in_order(
        [CourierOut(account_id=row.id, display_name=row.display_name) for row in rows],
        lambda c: c.account_id,
    )
    return CourierList(items=found.items, next=found.next)


@router.put("/pharmacy/stores/{store_id}/integration", response_model=IntegrationOut)
async def put_integration(
    store_id: uuid.UUID, body: IntegrationIn, _: Admin, session: DbSession, request: Request
) -> IntegrationOut:
    """Route a store's orders to the partner's own system (webhooks out, callbacks in).
    In prod the URL must resolve to public addresses only (422 `webhook_target_not_public`)."""
    row = await stores.put_integration(session, request.app.state.settings, store_id, body)
    return IntegrationOut(store_id=store_id, webhook_url=row.webhook_url, is_active=row.is_active)


_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_CALLBACK_CONTRACT: dict[str, Any] = {
    **raw_json_body(
        PartnerCallbackIn,
        "The order's new status as the partner's system saw it (422 partner_callback_malformed "
        "when it does not fit, checked only after the signature).",
    ),
    "parameters": [
        {
            "in": "header",
            "name": webhooks.TIMESTAMP_HEADER,
            "required": True,
            "description": "Unix seconds when the callback was signed; outside the signature "
            "window the callback is refused (401 partner_callback_stale).",
            "schema": {"type": "string", "pattern": r"^\d+$"},
            "example": "1795322535",
        },
        {
            "in": "header",
            "name": webhooks.SIGNATURE_HEADER,
            "required": True,
            "description": "`v1=` + hex HMAC-SHA256, under the store integration's shared "
            'secret, of the timestamp header, ".", and the raw request body bytes '
            "(401 partner_signature_invalid otherwise).",
            "schema": {"type": "string", "pattern": "^v1=[0-9a-f]{64}$"},
            "example": "v1=3f6c1e0b9a7d4c2e8b5a1f0d6c3e9b7a2d4f8e1c5b9a3d7f0e2c6b8a4d1f9e3c",
        },
        {
            "in": "header",
            "name": callbacks.NONCE_HEADER,
            "required": True,
            "description": "A nonce per callback (at most 64 characters): a repeat with the "
            "same body is answered `duplicate` with no second effect; with another body it is "
            "422 partner_nonce_reused.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 64},
            "example": "cb-20261122-104215-000731",
        },
    ],
    "responses": {
        "401": {
            "description": "Missing, stale or wrong signature (code partner_signature_invalid "
            "or partner_callback_stale)",
            "content": _PROBLEM,
        }
    },
}


@router.post(
    "/partner/stores/{store_id}/callbacks",
    response_model=CallbackAck,
    openapi_extra=_CALLBACK_CONTRACT,
)
async def partner_callback(
    store_id: uuid.UUID, request: Request, session: DbSession
) -> CallbackAck:
    """A partner system reports an order's status (HMAC-signed; see app/pharmacy/callbacks).

    The headers carry the signature and the nonce; the answer says whether the report was
    `applied`, `unchanged` (the order already had that status) or a `duplicate` nonce.
    """
    return await callbacks.receive(
        session,
        request.app.state.hub,
        request.app.state.settings,
        store_id,
        request.headers,
        await request.body(),
    )
