"""The assignment score: pure functions, so every decision can be recomputed and explained.

Each factor is a value in [0, 1] times a configurable weight:
  specialty    share of the patient's (online-admitted) diseases the doctor treats
  continuity   1 for the patient's current/previous receiving doctor, 0.5 for a doctor who has
               cared for them otherwise (team, consultation, referral), else 0
  institution  1 if the doctor works at the institution the patient chose
  load         1 - load / capacity (active patients, or the waiting queue for consultations)
  presence     online 1, busy 0.5, offline 0; its weight grows with the patient's urgency
               (x (1 + level)) so urgent patients go to someone who can see them now
  course       the disease course (病程), which the Yangquan pilot weighs beside indicators,
               care habits and doctors' busy/idle state (seed 004, section 3.1):
               m * seniority + (1 - m) * room, with the course's maturity
               m = min(years since diagnosis, 10) / 10. A patient ill for 10 years or more
               (late complications, several drugs, treatment already failed once) goes to the
               most senior title (SENIORITY); a new diagnosis goes to the doctor with the most
               room (the load value), because the first year is education - diet, injections,
               meter use - and needs frequent follow-up; courses in between blend the two.
               0 when no year of diagnosis is recorded: nothing to weigh.
Only doctors who treat at least one of the diseases and have room are eligible. Ties go to the
lower load ratio, then the doctor id, so the ranking never depends on input order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from app.config import Settings

FACTORS = ("specialty", "continuity", "institution", "load", "presence", "course")
PRESENCE_VALUE = {"online": 1.0, "busy": 0.5, "offline": 0.0}
# Chinese clinical titles (职称), chief to resident; any other title counts as the lowest.
SENIORITY = {"主任医师": 1.0, "副主任医师": 0.75, "主治医师": 0.5, "住院医师": 0.25}
# From this many years since diagnosis the course counts as long: seniority alone decides.
LONG_COURSE_YEARS = 10


@dataclass(frozen=True)
class Weights:
    specialty: float
    continuity: float
    institution: float
    load: float
    presence: float
    course: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Weights:
        """The weights configured for this city."""
        return cls(
            specialty=settings.assignment_weight_specialty,
            continuity=settings.assignment_weight_continuity,
            institution=settings.assignment_weight_institution,
            load=settings.assignment_weight_load,
            presence=settings.assignment_weight_presence,
            course=settings.assignment_weight_course,
        )

    def for_urgency(self, level: int) -> dict[str, float]:
        """The weights applied for a patient of this urgency level (0..3)."""
        return {
            "specialty": self.specialty,
            "continuity": self.continuity,
            "institution": self.institution,
            "load": self.load,
            "presence": self.presence * (1 + max(0, min(level, 3))),
            "course": self.course,
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
    # Whole years since the earliest diagnosis of the diseases; None when none is recorded.
    course_years: int | None = None


@dataclass(frozen=True)
class Candidate:
    """A doctor as the engine sees them at decision time."""

    doctor_id: uuid.UUID
    institution_id: uuid.UUID
    specialties: frozenset[str]
    capacity: int
    load: int
    presence: str
    # The clinical title (职称), e.g. 主治医师.
    title_zh: str


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
            "title_zh": c.title_zh,
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


def room(candidate: Candidate) -> float:
    """The share of the doctor's capacity still free (the load factor's value)."""
    return max(0.0, 1.0 - candidate.load / candidate.capacity) if candidate.capacity else 0.0


def course_maturity(course_years: int | None) -> float | None:
    """How far the course is from a new diagnosis (0) to a long one (1); None if unknown."""
    if course_years is None:
        return None
    return min(max(course_years, 0), LONG_COURSE_YEARS) / LONG_COURSE_YEARS


def course_fit(request: AssignmentRequest, candidate: Candidate) -> float:
    """The course factor's value: seniority for a long course, room for a new diagnosis."""
    maturity = course_maturity(request.course_years)
    if maturity is None:
        return 0.0
    seniority = SENIORITY.get(candidate.title_zh, 0.0)
    return maturity * seniority + (1.0 - maturity) * room(candidate)


def score(request: AssignmentRequest, candidate: Candidate, weights: Weights) -> Score:
    """The candidate's score for this request, factor by factor."""
    values = {
        "specialty": specialty_fit(request, candidate),
        "continuity": request.history.get(candidate.doctor_id, 0.0),
        "institution": 1.0 if candidate.institution_id == request.institution_id else 0.0,
        "load": room(candidate),
        "presence": PRESENCE_VALUE.get(candidate.presence, 0.0),
        "course": course_fit(request, candidate),
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
    return (
        round(specialty_fit(request, candidate), 4) * applied["specialty"]
        + request.history.get(candidate.doctor_id, 0.0) * applied["continuity"]
        + (applied["institution"] if candidate.institution_id == request.institution_id else 0.0)
        + round(room(candidate), 4) * applied["load"]
        + PRESENCE_VALUE.get(candidate.presence, 0.0) * applied["presence"]
        + round(course_fit(request, candidate), 4) * applied["course"]
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
