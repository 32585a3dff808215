"""Store stock, orders routed to a store, and the partner systems some stores work through."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import EncryptedString, UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey

ORDER_STATUSES = (
    "created",
    "accepted",
    "picked",
    "dispatched",
    "delivered",
    "completed",
    "cancelled",
    "delivery_failed",
    "returning",
    "returned",
)
_STATUS_LIST = ",".join(f"'{s}'" for s in ORDER_STATUSES)


class PharmacyStock(Base):
    """Packs of a drug a store holds and has not promised to an order yet."""

    __tablename__ = "pharmacy_stock"
    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity_not_negative"),)

    store_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pharmacy_stores.id"), primary_key=True
    )
    drug_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("drugs.id"), primary_key=True, index=True
    )
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class PharmacyOrder(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "pharmacy_orders"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUS_LIST})", name="status"),
        CheckConstraint("fulfilment IN ('delivery','pickup')", name="fulfilment"),
        CheckConstraint("total_fen >= 0", name="total_not_negative"),
        # A prescription is filled by at most one live order.
        Index(
            "uq_pharmacy_orders_live_prescription",
            "prescription_id",
            unique=True,
            sqlite_where=text("status NOT IN ('cancelled')"),
            postgresql_where=text("status NOT IN ('cancelled')"),
        ),
        UniqueConstraint("patient_id", "idempotency_key", name="uq_pharmacy_orders_key"),
        Index("ix_pharmacy_orders_store_status", "store_id", "status"),
    )

    prescription_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("prescriptions.id"), nullable=False
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("patients.id"), nullable=False, index=True
    )
    store_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pharmacy_stores.id"), nullable=False
    )
    fulfilment: Mapped[str] = mapped_column(String(8), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="created")
    total_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(64), nullable=False)
    # Where it goes: snapshots taken when ordering, encrypted like the patient's own.
    district_code: Mapped[str] = mapped_column(
        String(6), ForeignKey("districts.code"), nullable=False
    )
    delivery_address: Mapped[str | None] = mapped_column(EncryptedString(512))
    delivery_phone: Mapped[str | None] = mapped_column(EncryptedString(255))
    destination_lat: Mapped[float] = mapped_column(Float, nullable=False)
    destination_lng: Mapped[float] = mapped_column(Float, nullable=False)
    cold_chain: Mapped[bool] = mapped_column(nullable=False, default=False)
    # The patient chose to pay the personal share from their employee personal account
    # (个人账户) as far as its balance goes; the rest is paid at hand-over.
    pay_from_personal_account: Mapped[bool] = mapped_column(
        nullable=False, default=False, server_default=false()
    )
    courier_account_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("accounts.id"), index=True
    )
    seal_id: Mapped[str | None] = mapped_column(String(40))
    # One-time code the patient tells the courier; cleared once it has been used.
    handover_code: Mapped[str | None] = mapped_column(EncryptedString(255))
    handover_failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_lat: Mapped[float | None] = mapped_column(Float)
    last_lng: Mapped[float | None] = mapped_column(Float)
    last_located_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    eta_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class PharmacyOrderLine(UUIDPrimaryKey, Base):
    __tablename__ = "pharmacy_order_lines"
    __table_args__ = (CheckConstraint("packs > 0", name="packs_positive"),)

    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pharmacy_orders.id"), nullable=False, index=True
    )
    prescription_item_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("prescription_items.id"), nullable=False
    )
    drug_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("drugs.id"), nullable=False)
    packs: Mapped[int] = mapped_column(Integer, nullable=False)
    amount_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)


class StoreIntegration(CreatedAt, Base):
    """A store that works in the partner's own system: where its webhooks go, the shared key."""

    __tablename__ = "pharmacy_store_integrations"

    store_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pharmacy_stores.id"), primary_key=True
    )
    webhook_url: Mapped[str] = mapped_column(String(255), nullable=False)
    secret: Mapped[str] = mapped_column(EncryptedString(512), nullable=False)
    is_active: Mapped[bool] = mapped_column(nullable=False, default=True)


class PartnerCallback(Base):
    """A status callback received from a partner, kept by its nonce: a repeat is a no-op."""

    __tablename__ = "partner_callbacks"
    __table_args__ = (UniqueConstraint("store_id", "nonce", name="uq_partner_callbacks_nonce"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    store_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pharmacy_stores.id"), nullable=False
    )
    nonce: Mapped[str] = mapped_column(String(64), nullable=False)
    body_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("pharmacy_orders.id"))
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
