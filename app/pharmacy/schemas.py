"""Request and response shapes of stock, routing, orders and partner integration."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.kit.pagination import Page
from app.kit.time_bounds import Instant

Fulfilment = Literal["delivery", "pickup"]


class Coordinates(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class StoreProposal(BaseModel):
    """A store that covers the patient's district and holds every line in stock."""

    store_id: uuid.UUID
    code: str
    name_zh: str
    address_zh: str
    district_code: str
    same_district: bool
    partner_system: bool


class ProposalList(Page[StoreProposal]):
    """A page of the stores that can fill my prescription, for my district."""

    district_code: str
    district_name_zh: str
    fulfilment: Fulfilment


class OrderCreate(BaseModel):
    """The patient's choice: which store, delivery or pickup, and optionally where exactly."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "prescription_id": "e7a24c91-3f58-4d0b-8c6e-9b1f5a2d7c40",
                    "store_id": "2b8d4f16-7c3e-4a95-b1d0-6e9a3c5f8b72",
                    "fulfilment": "delivery",
                    "destination": {"lat": 37.8571, "lng": 113.5683},
                    "pay_from_personal_account": False,
                },
                {
                    "prescription_id": "e7a24c91-3f58-4d0b-8c6e-9b1f5a2d7c40",
                    "store_id": "2b8d4f16-7c3e-4a95-b1d0-6e9a3c5f8b72",
                    "fulfilment": "pickup",
                },
            ]
        }
    )

    prescription_id: uuid.UUID
    store_id: uuid.UUID
    fulfilment: Fulfilment = "delivery"
    destination: Coordinates | None = None
    # Pay the personal share from the employee personal account (个人账户) as far as its
    # balance goes: only for a verified employee-insured (310) identity with an account.
    pay_from_personal_account: bool = False


class StockIn(BaseModel):
    quantity: int = Field(ge=0, le=1_000_000)


class StockOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    store_id: uuid.UUID
    drug_id: uuid.UUID
    quantity: int
    updated_at: datetime


class StockList(Page[StockOut]):
    """A page of my store's stock, by drug."""


class IntegrationIn(BaseModel):
    """Route a store's orders to the partner's own system."""

    webhook_url: str = Field(pattern=r"^https?://", max_length=255)
    secret: str = Field(min_length=32, max_length=256)
    is_active: bool = True


class IntegrationOut(BaseModel):
    store_id: uuid.UUID
    webhook_url: str
    is_active: bool


class OrderLineOut(BaseModel):
    drug_id: uuid.UUID
    drug_name_zh: str
    national_code: str
    strength: str
    pack: str
    packs: int
    scanned: int
    amount_fen: int
    cold_chain: bool


class OrderTransitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: str | None
    to_status: str
    actor_kind: str
    actor_name: str
    at: datetime
    lat: float | None
    lng: float | None
    place: str | None
    note: str | None


class BoxEventOut(BaseModel):
    """One fact in a box's history: scanned into the order, released when it was cancelled
    (the box may be sold again), or returned by the patient (quality return)."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    drug_id: uuid.UUID
    event: Literal["scanned", "released", "returned"]
    at: datetime
    actor_kind: str
    actor_name: str
    reason: str | None
    return_id: uuid.UUID | None


class CourierOut(BaseModel):
    account_id: uuid.UUID
    display_name: str


class CourierList(Page[CourierOut]):
    """A page of my store's couriers."""


class ColdChainReadingOut(BaseModel):
    """One temperature of a cold-chain parcel's log; `in_range` is within 2-8 C. A reading that
    arrived after hand-over is `late`: evidence only, it decided nothing."""

    model_config = ConfigDict(from_attributes=True)

    measured_at: datetime
    celsius: float
    in_range: bool
    late: bool


class CollectOut(BaseModel):
    """What the parcel costs the patient: the fund pays `fund_fen`, the personal account
    `account_fen` (when the patient chose to pay from it), and the courier collects `cash_fen`
    at the door (cash, card, or a WeChat Pay / Alipay code). Once handed over it is the split
    booked at hand-over (the insurance platform's 2207 where one is configured); before, the
    quote: the platform's pre-settlement (2206) where it answered, else the local estimate."""

    basis: Literal["settlement", "platform_presettlement", "estimate"] = Field(
        description="settlement: booked at hand-over, final; platform_presettlement: the "
        "platform's quote (2206); estimate: the local rules' quote"
    )
    fund_fen: int
    account_fen: int
    cash_fen: int
    pay_from_personal_account: bool


class OrderOut(BaseModel):
    id: uuid.UUID
    status: str
    fulfilment: str
    prescription_id: uuid.UUID
    patient_id: uuid.UUID
    patient_name: str | None
    store_id: uuid.UUID
    store_name_zh: str
    district_code: str
    # Full for the patient and, while it is on its way, the courier delivering it; masked
    # for everyone else.
    delivery_address: str | None
    delivery_phone: str | None
    total_fen: int
    cold_chain: bool
    seal_id: str | None
    courier: CourierOut | None
    # Shown only to the patient, only while the parcel is on its way.
    handover_code: str | None
    last_lat: float | None
    last_lng: float | None
    last_located_at: datetime | None
    eta_at: datetime | None
    # Where the parcel goes: the patient's shared point, or their district's centre. Exact for
    # those who see the address; rounded to about a kilometre for everyone else.
    destination: Coordinates
    lines: list[OrderLineOut]
    # Boxes sold on this order now (a cancelled order's boxes were released).
    traceability_codes: list[str]
    traceability_history: list[BoxEventOut]
    # The cold-chain log received after hand-over shows the parcel left 2-8 C in transit: the
    # sale stands, and the store should contact the patient (quality return).
    late_cold_chain_excursion: bool
    # The parcel's temperature log (cold-chain orders only), oldest first.
    cold_chain_log: list[ColdChainReadingOut]
    # None until the order has been quoted.
    collect: CollectOut | None
    history: list[OrderTransitionOut]
    created_at: datetime
    updated_at: datetime


class MyStoreOut(BaseModel):
    """The caller's store, with a point to draw it at (its district's centre: stores carry no
    coordinates of their own)."""

    id: uuid.UUID
    code: str
    name_zh: str
    address_zh: str
    district_code: str
    district_name_zh: str
    location: Coordinates


class OrderPage(Page[OrderOut]):
    """A page of orders, newest first."""


class CallbackAck(BaseModel):
    """What a partner callback did: applied, unchanged (the order already had that status) or
    duplicate (a nonce seen before: no second effect)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "outcome": "applied",
                    "order_id": "c5e81f3a-92d4-4b6e-a07c-3d1b8f9e2a56",
                    "status": "picked",
                }
            ]
        }
    )

    outcome: str
    order_id: uuid.UUID | None
    status: str | None


class PartnerBox(BaseModel):
    national_code: str = Field(min_length=1, max_length=32)
    code: str = Field(pattern=r"^\d{20}$")


class PartnerCallbackIn(BaseModel):
    """A status report from a partner system about one of its store's orders."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order_id": "c5e81f3a-92d4-4b6e-a07c-3d1b8f9e2a56",
                    "status": "picked",
                    "occurred_at": "2026-11-22T10:42:15+08:00",
                    "boxes": [
                        {"national_code": "86900012000123", "code": "81234567890123456789"},
                        {"national_code": "86900012000123", "code": "81234567890123456790"},
                    ],
                    "place": "阳泉市城区南大街老百姓大药房",
                },
                {
                    "order_id": "c5e81f3a-92d4-4b6e-a07c-3d1b8f9e2a56",
                    "status": "delivery_failed",
                    "occurred_at": "2026-11-22T15:18:40+08:00",
                    "reason": "收货地址为盂县山区，道路结冰无法到达",
                    "lat": 38.0862,
                    "lng": 113.4121,
                },
            ]
        }
    )

    order_id: uuid.UUID
    status: Literal[
        "accepted",
        "picked",
        "dispatched",
        "delivered",
        "completed",
        "cancelled",
        "delivery_failed",
        "returning",
        "returned",
    ]
    occurred_at: Instant | None = None
    boxes: list[PartnerBox] = Field(default_factory=list, max_length=200)
    seal_id: str | None = Field(default=None, max_length=40)
    handover_code: str | None = Field(default=None, pattern=r"^\d{6}$")
    reason: str | None = Field(default=None, max_length=500)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    place: str | None = Field(default=None, max_length=128)
