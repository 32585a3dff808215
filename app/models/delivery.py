"""Delivery records: every order transition with actor, time and place, the traceability codes
of the boxes sold (and the append-only history of every scan, release and return of a box),
courier positions and the cold-chain temperature log."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Numeric,
    String,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.audit_event import BigIntPK
from app.models.base import Base


class OrderTransition(Base):
    __tablename__ = "order_transitions"
    __table_args__ = (
        Index("ix_order_transitions_order", "order_id", "id"),
        # A retried request (same Idempotency-Key) finds its transition instead of making one.
        UniqueConstraint("order_id", "idempotency_key", name="uq_order_transitions_key"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pharmacy_orders.id"), nullable=False
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16), nullable=False)
    # account = a signed-in person; partner = the store's own system; system = this service.
    actor_kind: Mapped[str] = mapped_column(String(8), nullable=False)
    actor_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("accounts.id"))
    actor_name: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    place: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(String(500))
    idempotency_key: Mapped[str | None] = mapped_column(String(64))


class DispensedBox(Base):
    """One box sold, by its traceability code: the primary key makes a second sale impossible.

    This is the box's current sale; an order cancelled before picking deletes its rows (the
    boxes go back on the shelf). What happened to a box is kept in `traceability_events`."""

    __tablename__ = "dispensed_boxes"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pharmacy_orders.id"), nullable=False, index=True
    )
    drug_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("drugs.id"), nullable=False)
    scanned_by_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("accounts.id"))
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


TRACEABILITY_EVENTS = ("scanned", "released", "returned")


class TraceabilityEvent(Base):
    """One fact about a box, append-only (the database refuses UPDATE and DELETE): scanned into
    an order, released when that order was cancelled, returned by the patient (quality return).
    Each happens at most once per order and box."""

    __tablename__ = "traceability_events"
    __table_args__ = (
        CheckConstraint(
            "event IN (" + ",".join(f"'{e}'" for e in TRACEABILITY_EVENTS) + ")", name="event"
        ),
        UniqueConstraint("order_id", "code", "event", name="uq_traceability_events_order_code"),
        Index("ix_traceability_events_code", "code", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(20), nullable=False)
    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pharmacy_orders.id"), nullable=False, index=True
    )
    drug_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("drugs.id"), nullable=False)
    event: Mapped[str] = mapped_column(String(16), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    actor_kind: Mapped[str] = mapped_column(String(8), nullable=False)
    actor_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("accounts.id"))
    actor_name: Mapped[str] = mapped_column(String(64), nullable=False)
    reason: Mapped[str | None] = mapped_column(String(500))
    # The quality return a `returned` box came back with.
    return_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("quality_returns.id"))


class DeliveryLocation(Base):
    __tablename__ = "delivery_locations"
    __table_args__ = (
        Index("ix_delivery_locations_order", "order_id", "recorded_at"),
        UniqueConstraint("order_id", "idempotency_key", name="uq_delivery_locations_key"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pharmacy_orders.id"), nullable=False
    )
    courier_account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id"), nullable=False
    )
    lat: Mapped[float] = mapped_column(Float, nullable=False)
    lng: Mapped[float] = mapped_column(Float, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    eta_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str] = mapped_column(String(64), nullable=False)


class ColdChainReading(Base):
    __tablename__ = "cold_chain_readings"
    __table_args__ = (
        UniqueConstraint("order_id", "measured_at", name="uq_cold_chain_readings_time"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pharmacy_orders.id"), nullable=False, index=True
    )
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    celsius: Mapped[Decimal] = mapped_column(Numeric(4, 1), nullable=False)
    seal_id: Mapped[str | None] = mapped_column(String(40))
    in_range: Mapped[bool] = mapped_column(nullable=False)
    # Measured in transit but received after hand-over: kept as evidence, decides nothing.
    late: Mapped[bool] = mapped_column(nullable=False, default=False, server_default=false())
    recorded_by_account_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("accounts.id")
    )
