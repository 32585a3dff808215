"""The disease course (病程) in the assignment: seniority for a long course, room for a new
diagnosis, nothing when no year of diagnosis is recorded; shown in the decision's breakdown."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.assignment.scoring import (
    LONG_COURSE_YEARS,
    SENIORITY,
    AssignmentRequest,
    Candidate,
    Disease,
    Weights,
    rank,
    score,
)
from app.kit.clock import city_date
from app.models import DoctorLoad
from tests.assignment.helpers import headers, start
from tests.enrollment import builders
from tests.fixtures import factories

TITLES = [*SENIORITY, "医师"]
# Only the course weighs: whatever orders two doctors below is the course factor.
COURSE_ONLY = Weights(
    specialty=0.0, continuity=0.0, institution=0.0, load=0.0, presence=0.0, course=1.0
)
WEIGHTS = Weights(
    specialty=3.0, continuity=2.5, institution=1.5, load=2.0, presence=1.0, course=1.0
)
DIABETES = (Disease("M01603", "M01600"),)

doctors = st.builds(
    Candidate,
    doctor_id=st.uuids(),
    institution_id=st.just(uuid.UUID(int=1)),
    specialties=st.just(frozenset({"M01600"})),
    capacity=st.integers(2, 500),
    load=st.just(0),
    presence=st.sampled_from(["online", "busy", "offline"]),
    title_zh=st.sampled_from(TITLES),
)


def _request(course_years: int | None) -> AssignmentRequest:
    return AssignmentRequest(DIABETES, None, 0, course_years=course_years)


def _seniority(title: str) -> float:
    return SENIORITY.get(title, 0.0)


@given(
    doctors,
    st.sampled_from(TITLES),
    st.sampled_from(TITLES),
    st.integers(LONG_COURSE_YEARS, 60),
    st.sampled_from([COURSE_ONLY, WEIGHTS]),
)
def test_a_long_course_goes_to_the_more_senior_of_two_otherwise_equal_doctors(
    doctor, title_a, title_b, years, weights
):
    a = dataclasses.replace(doctor, title_zh=title_a)
    b = dataclasses.replace(doctor, doctor_id=uuid.uuid4(), title_zh=title_b)
    request = _request(years)
    ranked = [s.candidate for s in rank(request, [a, b], weights)]
    if _seniority(title_a) != _seniority(title_b):
        senior = a if _seniority(title_a) > _seniority(title_b) else b
        assert ranked[0] == senior
        assert score(request, senior, weights).factors["course"]["value"] == _seniority(
            senior.title_zh
        )


@given(doctors, st.sampled_from(TITLES), st.integers(1, 100), st.integers(1, 100))
def test_a_new_diagnosis_goes_to_the_doctor_with_more_room_whatever_the_title(
    doctor, other_title, load_a, extra
):
    capacity = load_a + extra + 1
    a = dataclasses.replace(doctor, capacity=capacity, load=load_a)
    b = dataclasses.replace(
        doctor, doctor_id=uuid.uuid4(), capacity=capacity, load=load_a + extra, title_zh=other_title
    )
    request = _request(0)
    ranked = rank(request, [b, a], COURSE_ONLY)
    assert [s.candidate for s in ranked] == [a, b]
    assert ranked[0].factors["course"]["value"] == ranked[0].factors["load"]["value"]


@given(doctors, st.integers(0, 500), st.integers(0, 60), st.integers(0, 60))
def test_a_longer_course_moves_the_value_towards_seniority(doctor, busy, years, more):
    """As the years grow the factor only ever gets closer to the doctor's seniority."""
    doctor = dataclasses.replace(doctor, load=min(busy, doctor.capacity - 1))
    near = score(_request(years), doctor, COURSE_ONLY).factors["course"]["value"]
    longer = score(_request(years + more), doctor, COURSE_ONLY).factors["course"]["value"]
    target = _seniority(doctor.title_zh)
    assert abs(longer - target) <= abs(near - target) + 1e-4


@given(doctors, st.sampled_from(TITLES))
def test_without_a_year_of_diagnosis_the_course_weighs_nothing(doctor, other_title):
    other = dataclasses.replace(doctor, title_zh=other_title)
    unknown = _request(None)
    assert score(unknown, doctor, WEIGHTS).factors["course"]["points"] == 0.0
    assert score(unknown, doctor, WEIGHTS).total == score(unknown, other, WEIGHTS).total


async def test_a_long_course_is_assigned_the_chief_physician_and_the_breakdown_shows_it(
    client, db_session, settings
):
    account, patient = await builders.patient(db_session)
    diagnosed = city_date().year - 12
    await builders.entitle(db_session, patient, "M01603", diagnosed_year=diagnosed)
    hospital = await factories.institution(db_session)
    _, resident = await builders.doctor(
        db_session, presence="online", institution=hospital, title="住院医师"
    )
    _, chief = await builders.doctor(
        db_session, presence="online", institution=hospital, title="主任医师"
    )
    body = await start(client, await headers(db_session, settings, account), hospital.id)
    assert body["relationship"]["doctor_id"] == str(chief.id)
    breakdown = body["decision"]["breakdown"]
    assert breakdown["course"] == {"diagnosed_year": diagnosed, "years": 12}
    assert breakdown["weights"]["course"] == settings.assignment_weight_course
    chosen, runner_up = breakdown["chosen"], breakdown["runners_up"][0]
    assert chosen["title_zh"] == "主任医师" and chosen["factors"]["course"]["value"] == 1.0
    assert runner_up["doctor_id"] == str(resident.id)
    assert runner_up["factors"]["course"]["value"] == 0.25
    assert chosen["total"] - runner_up["total"] == pytest.approx(
        0.75 * settings.assignment_weight_course
    )


async def test_a_new_diagnosis_is_assigned_the_doctor_with_room_over_a_busier_chief(
    client, db_session, settings
):
    account, patient = await builders.patient(db_session)
    await builders.entitle(db_session, patient, "M01603", diagnosed_year=city_date().year)
    hospital = await factories.institution(db_session)
    _, chief = await builders.doctor(
        db_session, presence="online", institution=hospital, title="主任医师"
    )
    _, attending = await builders.doctor(
        db_session, presence="online", institution=hospital, title="主治医师"
    )
    (await db_session.get(DoctorLoad, chief.id)).active_patients = 60
    await db_session.flush()
    body = await start(client, await headers(db_session, settings, account), hospital.id)
    assert body["relationship"]["doctor_id"] == str(attending.id)
    breakdown = body["decision"]["breakdown"]
    assert breakdown["course"]["years"] == 0
    assert breakdown["chosen"]["factors"]["course"]["value"] == 1.0
    assert breakdown["runners_up"][0]["factors"]["course"]["value"] == 0.4


async def test_no_recorded_year_leaves_the_course_out_of_the_score(client, db_session, settings):
    account, _patient = await builders.patient(db_session, "M01603")
    _, doctor = await builders.doctor(db_session, presence="online")
    body = await start(client, await headers(db_session, settings, account), doctor.institution_id)
    breakdown = body["decision"]["breakdown"]
    assert breakdown["course"] == {"diagnosed_year": None, "years": None}
    assert breakdown["chosen"]["factors"]["course"] == {
        "value": 0.0,
        "weight": settings.assignment_weight_course,
        "points": 0.0,
    }
