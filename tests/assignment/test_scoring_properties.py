"""Properties of the assignment score and the queue order, over wide inputs (Hypothesis)."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.assignment.queue import ServiceTime, estimated_wait_seconds, queue_key
from app.assignment.scoring import (
    SENIORITY,
    AssignmentRequest,
    Candidate,
    Disease,
    Weights,
    eligible,
    rank,
    score,
)

WEIGHTS = Weights(
    specialty=3.0, continuity=2.5, institution=1.5, load=2.0, presence=1.0, course=1.0
)
TITLES = [*SENIORITY, "医师"]
INSTITUTIONS = [uuid.UUID(int=i) for i in range(1, 4)]
CODES = ["M01600", "M03900", "M04600"]

candidates = st.builds(
    Candidate,
    doctor_id=st.uuids(),
    institution_id=st.sampled_from(INSTITUTIONS),
    specialties=st.frozensets(st.sampled_from(CODES), max_size=3),
    capacity=st.integers(1, 500),
    load=st.integers(0, 600),
    presence=st.sampled_from(["online", "busy", "offline"]),
    title_zh=st.sampled_from(TITLES),
)
requests = st.builds(
    AssignmentRequest,
    diseases=st.lists(
        st.sampled_from([Disease("M01603", "M01600"), Disease("M03902", "M03900")]),
        min_size=1,
        max_size=2,
        unique=True,
    ).map(tuple),
    institution_id=st.sampled_from([*INSTITUTIONS, None]),
    urgency_level=st.integers(0, 3),
    course_years=st.none() | st.integers(0, 40),
)


@given(requests, candidates)
def test_the_total_is_the_sum_of_the_factor_points(request, candidate):
    result = score(request, candidate, WEIGHTS)
    assert abs(result.total - sum(f["points"] for f in result.factors.values())) < 1e-9
    assert all(0.0 <= f["value"] <= 1.0 for f in result.factors.values())


@given(requests, st.lists(candidates, max_size=30))
def test_only_fitting_doctors_with_room_are_ranked_best_first(request, pool):
    ranked = rank(request, pool, WEIGHTS)
    assert all(eligible(request, s.candidate) for s in ranked)
    assert all(s.candidate.load < s.candidate.capacity for s in ranked)
    assert [s.total for s in ranked] == sorted((s.total for s in ranked), reverse=True)
    assert len(ranked) == sum(1 for c in pool if eligible(request, c))


@given(requests, st.lists(candidates, max_size=20, unique_by=lambda c: c.doctor_id), st.randoms())
def test_the_ranking_does_not_depend_on_input_order(request, pool, rnd):
    shuffled = list(pool)
    rnd.shuffle(shuffled)
    first = [s.candidate.doctor_id for s in rank(request, pool, WEIGHTS)]
    assert first == [s.candidate.doctor_id for s in rank(request, shuffled, WEIGHTS)]


@given(requests, candidates, st.integers(1, 100))
def test_more_load_never_scores_higher(request, candidate, extra):
    lighter = score(request, candidate, WEIGHTS).total
    heavier = score(
        request,
        Candidate(**{**candidate.__dict__, "load": candidate.load + extra}),
        WEIGHTS,
    ).total
    assert heavier <= lighter


@given(requests, candidates)
def test_continuity_never_scores_lower(request, candidate):
    stranger = score(request, candidate, WEIGHTS).total
    known = dataclasses.replace(request, history={candidate.doctor_id: 1.0})
    assert score(known, candidate, WEIGHTS).total >= stranger


@given(st.integers(0, 2), candidates)
def test_urgency_only_ever_raises_the_weight_of_presence(level, candidate):
    assert WEIGHTS.for_urgency(level + 1)["presence"] > WEIGHTS.for_urgency(level)["presence"]
    assert WEIGHTS.for_urgency(level + 1)["continuity"] == WEIGHTS.for_urgency(level)["continuity"]


entries = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 10_000), st.uuids()), min_size=1, max_size=40
)
BASE = datetime(2026, 11, 22, tzinfo=UTC)


@given(entries)
def test_queue_order_is_urgent_first_then_longest_waiting(items):
    ordered = sorted(items, key=lambda e: queue_key(e[0], BASE + timedelta(seconds=e[1]), e[2]))
    for before, after in itertools.pairwise(ordered):
        assert before[0] >= after[0]
        if before[0] == after[0]:
            assert before[1] <= after[1]


@settings(max_examples=200)
@given(
    st.integers(0, 50),
    st.floats(1, 60),
    st.sampled_from(["online", "busy"]),
    st.none() | st.floats(0, 120),
)
def test_the_estimate_grows_with_the_patients_ahead_and_is_never_negative(
    ahead, minutes, presence, elapsed
):
    service = ServiceTime(minutes, "measured", 10)
    now = estimated_wait_seconds(ahead, service, presence, elapsed)
    later = estimated_wait_seconds(ahead + 1, service, presence, elapsed)
    assert now is not None and later is not None and 0 <= now <= later
    assert estimated_wait_seconds(ahead, service, "offline", elapsed) is None
