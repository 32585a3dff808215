"""Query scopes: the rows of patient data each principal may see, as SQL predicates.

Repositories add these to every query that returns patient data, so what is out of scope is
simply not found (404) and ids cannot be probed.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, false, or_, select

from app.authz.principal import Principal
from app.models import CareRelationship, Role


def doctor_patient_ids(doctor_id: uuid.UUID, now: datetime) -> Select[uuid.UUID]:
    """Subquery: patients in an active care relationship with this doctor."""
    return select(CareRelationship.patient_id).where(
        CareRelationship.doctor_id == doctor_id,
        CareRelationship.started_at <= now,
        or_(CareRelationship.ended_at.is_(None), CareRelationship.ended_at > now),
    )


def patient_scope(
    principal: Principal, patient_id_column: SQLColumnExpression[uuid.UUID], now: datetime
) -> ColumnElement[bool]:
    """Rows whose patient the principal may see: themselves, or their doctor's patients."""
    if principal.role == Role.patient and principal.patient_id is not None:
        return patient_id_column == principal.patient_id
    if principal.role == Role.doctor and principal.doctor_id is not None:
        return patient_id_column.in_(doctor_patient_ids(principal.doctor_id, now))
    return false()
