"""The assignment score: pure functions, so every decision can be recomputed and explained.

Each factor is a value in [0, 1] times a configurable weight:
  specialty    share of the patient's (online-admitted) diseases the doctor treats
  continuity   1 for the patient's current/previous receiving doctor, 0.5 for a doctor who has
               cared for them otherwise (team, consultation, referral), else 0
  institution  1 if the doctor works at the institution the patient chose
  load         1 - load / capacity (active patients, or the waiting queue for consultations)
  presence     online 1, busy 0.5, offline 0; its weight grows with the patient's urgency
               (x (1 + level)) so urgent patients go to someone who can see them now
Only doctors who treat at least one of the diseases and have room are eligible. Ties go to the
lower load ratio, then the doctor id, so the ranking never depends on input order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from app.config import Settings

FACTORS = ("specialty", "continuity", "institution", "load", "presence")
PRESENCE_VALUE = {"online": 1.0, "busy": 0.5, "offline": 0.0}


@dataclass(frozen=True)
class Weights:
    specialty: float
    continuity: float
    institution: float
    load: float
    presence: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Weights:
        """The weights configured for this city."""
        return cls(
            specialty=settings.assignment_weight_specialty,
            continuity=settings.assignment_weight_continuity,
            institution=settings.assignment_weight_institution,
            load=settings.assignment_weight_load,
            presence=settings.assignment_weight_presence,
        )

    def for_urgency(self, level: int) -> dict[str, float]:
        """The weights applied for a patient of this urgency level (0..3)."""
        return {
            "specialty": self.specialty,
            "continuity": self.continuity,
            "institution": self.institution,
            "load": self.load,
            "presence": self.presence * (1 + max(0, min(level, 3))),
        }


@dataclass(frozen=True)
class Disease:
    code: str
    national_code: str


@dataclass(frozen=True)
class AssignmentRequest:
    """What the engine knows about the patient."""

    diseases: tuple[Disease, ...]
    institution_id: uuid.UUID | None
    urgency_level: int
    # doctor id -> continuity value (1.0 current/previous receiving doctor, 0.5 other care)
    history: dict[uuid.UUID, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    """A doctor as the engine sees them at decision time."""

    doctor_id: uuid.UUID
    institution_id: uuid.UUID
    specialties: frozenset[str]
    capacity: int
    load: int
    presence: str


@dataclass(frozen=True)
class Score:
    """A candidate's total and each factor's value, weight and points."""

    candidate: Candidate
    total: float
    factors: dict[str, dict[str, float]]

    def as_json(self) -> dict[str, Any]:
        """The stored, human-readable form of this score."""
        c = self.candidate
        return {
            "doctor_id": str(c.doctor_id),
            "total": round(self.total, 4),
            "factors": self.factors,
            "load": f"{c.load}/{c.capacity}",
            "presence": c.presence,
        }


def specialty_fit(request: AssignmentRequest, candidate: Candidate) -> float:
    """Share of the patient's diseases the doctor treats (by local or national code)."""
    if not request.diseases:
        return 0.0
    covered = sum(
        1
        for d in request.diseases
        if d.code in candidate.specialties or d.national_code in candidate.specialties
    )
    return covered / len(request.diseases)


def eligible(request: AssignmentRequest, candidate: Candidate) -> bool:
    """Treats at least one of the diseases and has room."""
    return specialty_fit(request, candidate) > 0 and candidate.load < candidate.capacity


def score(request: AssignmentRequest, candidate: Candidate, weights: Weights) -> Score:
    """The candidate's score for this request, factor by factor."""
    values = {
        "specialty": specialty_fit(request, candidate),
        "continuity": request.history.get(candidate.doctor_id, 0.0),
        "institution": 1.0 if candidate.institution_id == request.institution_id else 0.0,
        "load": max(0.0, 1.0 - candidate.load / candidate.capacity) if candidate.capacity else 0.0,
        "presence": PRESENCE_VALUE.get(candidate.presence, 0.0),
    }
    applied = weights.for_urgency(request.urgency_level)
    factors = {
        name: {
            "value": round(values[name], 4),
            "weight": applied[name],
            "points": round(values[name] * applied[name], 4),
        }
        for name in FACTORS
    }
    return Score(candidate, sum(f["points"] for f in factors.values()), factors)


def _fast_total(
    request: AssignmentRequest, candidate: Candidate, applied: dict[str, float]
) -> float:
    """The same total as `score`, without building the breakdown (for ranking many)."""
    load = max(0.0, 1.0 - candidate.load / candidate.capacity) if candidate.capacity else 0.0
    return (
        round(specialty_fit(request, candidate), 4) * applied["specialty"]
        + request.history.get(candidate.doctor_id, 0.0) * applied["continuity"]
        + (applied["institution"] if candidate.institution_id == request.institution_id else 0.0)
        + round(load, 4) * applied["load"]
        + PRESENCE_VALUE.get(candidate.presence, 0.0) * applied["presence"]
    )


def rank(
    request: AssignmentRequest,
    candidates: list[Candidate],
    weights: Weights,
    limit: int | None = None,
) -> list[Score]:
    """Eligible candidates, best first (ties: lower load ratio, then doctor id); with `limit`,
    only the best `limit` get their full breakdown built."""
    applied = weights.for_urgency(request.urgency_level)
    keyed = sorted(
        (
            (
                -round(_fast_total(request, c, applied), 6),
                c.load / c.capacity,
                str(c.doctor_id),
                c,
            )
            for c in candidates
            if eligible(request, c)
        ),
        key=lambda k: k[:3],
    )
    chosen = keyed if limit is None else keyed[:limit]
    return [score(request, k[3], weights) for k in chosen]
