"""The database pre-ranks candidates: the engine must choose exactly as if it ranked them all."""

from __future__ import annotations

import random

from app.assignment import engine
from app.assignment import repository as assignment_repository
from app.assignment.scoring import SENIORITY, Weights, rank
from app.kit.clock import utcnow
from app.models import DoctorLoad
from tests.enrollment import builders
from tests.fixtures import factories


async def _all_ranked(db_session, settings, context, purpose, now):
    rows, considered = await assignment_repository.candidate_rows(
        db_session, engine._codes(context.request), (), now
    )
    consultation = purpose in ("consultation", "handoff")
    candidates = [engine.candidate_of(row, settings, consultation, now) for row in rows]
    return rank(context.request, candidates, Weights.from_settings(settings)), considered


async def test_preranked_choice_equals_ranking_every_doctor(db_session, settings):
    chooser = random.Random(7)
    _, patient = await builders.patient(db_session, "M01603", "M03902")
    here = await factories.institution(db_session)
    elsewhere = await factories.institution(db_session)
    doctors = []
    for i in range(40):
        specialties = chooser.choice([("M01600",), ("M03900",), ("M01600", "M03900"), ("X",)])
        presence = chooser.choice([None, "online", "busy", "offline"])
        capacity = chooser.choice([3, 10, 100])
        _, doctor = await builders.doctor(
            db_session,
            specialties,
            capacity=capacity,
            presence=presence,
            institution=chooser.choice([here, elsewhere]),
            title=chooser.choice([*SENIORITY, "医师"]),
        )
        load = await db_session.get(DoctorLoad, doctor.id)
        load.active_patients = chooser.choice([0, 1, 2, 3, capacity // 2, capacity])
        load.waiting_consultations = chooser.choice([0, 1, 2, 5])
        doctors.append(doctor)
    await db_session.flush()
    now = utcnow()
    context = await engine.patient_context(db_session, patient.id, here.id, now)
    history = {doctors[0].id: 1.0, doctors[1].id: 0.5, doctors[2].id: 0.5}
    # No course recorded, a new diagnosis, a course in between and a long one: the database
    # weighs seniority and room as the engine does.
    for course_years in (None, 0, 4, 15):
        context = engine.PatientContext(
            context.patient_id,
            type(context.request)(
                diseases=context.request.diseases,
                institution_id=context.request.institution_id,
                urgency_level=context.request.urgency_level,
                history=history,
                course_years=course_years,
            ),
            context.urgency,
            None,
        )
        for purpose in ("enrollment", "consultation"):
            expected, considered = await _all_ranked(db_session, settings, context, purpose, now)
            got, got_considered = await engine.ranked(db_session, settings, context, purpose, now)
            assert [s.as_json() for s in got] == [s.as_json() for s in expected[: engine.RANKED]]
            assert got_considered == considered
            assert len(expected) > engine.RANKED  # the pre-ranking really cut something


async def test_doctors_alike_in_every_factor_come_back_only_as_many_as_can_rank(
    db_session, settings, monkeypatch
):
    """Alike doctors tie on total and load ratio, so only the RANKED lowest ids among them can
    be among the best: the database returns no more of them, and the choice is unchanged."""
    _, patient = await builders.patient(db_session, "M01603")
    here = await factories.institution(db_session)
    for _ in range(engine.RANKED + 16):
        await builders.doctor(db_session, capacity=10, presence="online", institution=here)
    _, busier = await builders.doctor(db_session, capacity=10, presence="online", institution=here)
    (await db_session.get(DoctorLoad, busier.id)).active_patients = 5
    await db_session.flush()
    now = utcnow()
    context = await engine.patient_context(db_session, patient.id, here.id, now)
    expected, considered = await _all_ranked(db_session, settings, context, "enrollment", now)
    returned = []
    candidate_rows = assignment_repository.candidate_rows

    async def counting(*args, **kwargs):
        rows, considered = await candidate_rows(*args, **kwargs)
        returned.append(len(rows))
        return rows, considered

    monkeypatch.setattr(assignment_repository, "candidate_rows", counting)
    got, got_considered = await engine.ranked(db_session, settings, context, "enrollment", now)
    assert [s.as_json() for s in got] == [s.as_json() for s in expected[: engine.RANKED]]
    assert got_considered == considered == engine.RANKED + 17
    assert returned == [engine.RANKED]
