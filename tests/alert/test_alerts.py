"""Live alerts: raised once per episode as readings arrive, pushed to the doctor, acknowledged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.alert import service as alert_service
from app.alert.urgency import Urgency, urgency_by_patient
from app.kit.clock import shifted_by, utcnow
from app.models import Alert, OutboxMessage
from tests.fixtures import factories
from tests.reading.helpers import bp_item, cgm_item, doctor_for, upload, wearer
from tests.realtime.recording import RecordingConnection


async def _alerts(db_session, patient_id) -> list[Alert]:
    rows = await db_session.scalars(
        select(Alert)
        .where(Alert.patient_id == patient_id)
        .order_by(Alert.measured_at)
        .execution_options(populate_existing=True)
    )
    return list(rows)


@pytest.fixture
async def watched(app, client, db_session, settings):
    """A wearer, their doctor signed in, and the doctor's realtime connection."""
    who = await wearer(db_session, settings)
    doctor_account, _doctor, headers = await doctor_for(db_session, settings, who.patient)
    connection = RecordingConnection()
    await app.state.hub.register(doctor_account.id, connection)
    yield who, doctor_account, headers, connection
    await app.state.hub.unregister(doctor_account.id, connection)


async def test_a_stream_of_lows_raises_one_alert(client, db_session, watched) -> None:
    who, doctor_account, _, connection = watched
    start = utcnow() - timedelta(minutes=10)
    lows = [cgm_item(who.cgm, start + timedelta(minutes=i), 2.8 - i / 100) for i in range(5)]
    await upload(client, who.headers, lows[:3])
    await upload(client, who.headers, lows[3:])
    [alert] = await _alerts(db_session, who.patient.id)
    assert (alert.rule, alert.level, alert.episode_ended_at) == ("urgent_low", 3, None)
    assert alert.measured_at == start
    assert [e["type"] for e in connection.events] == ["alert.raised"]
    event = connection.events[0]["alert"]
    assert (event["rule"], event["value_mmol_l"], event["patient_id"]) == (
        "urgent_low",
        2.8,
        str(who.patient.id),
    )
    pushed = await db_session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.idempotency_key == f"alert:{alert.id}:{doctor_account.id}"
        )
    )
    assert pushed is not None and pushed.kind == "push.notification"
    assert pushed.payload["template"] == "reading_alert"


async def test_recovery_ends_the_episode_and_a_new_low_raises_again(
    client, db_session, watched
) -> None:
    who, _, _, connection = watched
    start = utcnow() - timedelta(minutes=14)
    values = [2.9, 3.2, 3.8, 3.9, 2.9]  # 3.2 and 3.8 are not yet "recovered" (< 3.9)
    items = [cgm_item(who.cgm, start + timedelta(minutes=3.5 * i), v) for i, v in enumerate(values)]
    await upload(client, who.headers, items)
    first, second = await _alerts(db_session, who.patient.id)
    assert first.episode_ended_at == start + timedelta(minutes=10.5)
    assert second.episode_ended_at is None
    assert len(connection.events) == 2


async def test_exactly_3_0_mmol_is_not_urgent(client, db_session, watched) -> None:
    who, _, _, _ = watched
    await upload(client, who.headers, [cgm_item(who.cgm, utcnow(), 3.0)])
    assert await _alerts(db_session, who.patient.id) == []


async def test_backfilled_lows_raise_no_live_alert(client, db_session, watched) -> None:
    who, _, _, connection = watched
    old = utcnow() - timedelta(hours=5)
    await upload(client, who.headers, [cgm_item(who.cgm, old, 2.5)])
    recent = cgm_item(who.cgm, utcnow(), 2.5, backfill=True)
    await upload(client, who.headers, [recent])
    assert await _alerts(db_session, who.patient.id) == []
    assert connection.events == []


@pytest.mark.parametrize(
    ("systolic", "diastolic", "raised"),
    [(180, 90, True), (150, 110, True), (179, 109, False)],
)
async def test_grade_3_blood_pressure(
    client, db_session, watched, systolic, diastolic, raised
) -> None:
    who, _, _, _ = watched
    await upload(client, who.headers, [bp_item(who.bp, utcnow(), systolic, diastolic)])
    rules = [a.rule for a in await _alerts(db_session, who.patient.id)]
    assert rules == (["bp_grade3"] if raised else [])


async def test_sustained_high_needs_the_configured_duration(client, db_session, watched) -> None:
    who, _, _, _ = watched
    now = utcnow()
    minutes = 120  # settings.alert_sustained_high_minutes
    # A 5-minute CGM: each reading 5 minutes after the one before (closer is too dense).
    hour = [cgm_item(who.cgm, now - timedelta(minutes=m), 15.0) for m in range(65, 4, -5)]
    await upload(client, who.headers, hour)
    assert await _alerts(db_session, who.patient.id) == []
    earlier = [
        cgm_item(who.cgm, now - timedelta(minutes=m), 15.0) for m in range(minutes + 5, 65, -5)
    ]
    await upload(client, who.headers, earlier)  # backfilled: fills the gap, raises nothing
    await upload(client, who.headers, [cgm_item(who.cgm, now, 14.5)])
    [alert] = await _alerts(db_session, who.patient.id)
    assert alert.rule == "sustained_high"
    await upload(client, who.headers, [cgm_item(who.cgm, now + timedelta(minutes=4), 13.9)])
    [alert] = await _alerts(db_session, who.patient.id)
    assert alert.episode_ended_at is not None


async def test_signal_loss_is_raised_by_the_sweep_once_and_ends_with_data(
    app, client, db_session, settings, watched
) -> None:
    who, _, _, _connection = watched
    await upload(client, who.headers, [cgm_item(who.cgm, utcnow(), 6.0)])
    hub = app.state.hub
    assert await alert_service.sweep_signal_loss(db_session, settings, hub) == 0
    with shifted_by(timedelta(minutes=settings.alert_signal_loss_minutes + 5)):
        assert await alert_service.sweep_signal_loss(db_session, settings, hub) == 1
        assert await alert_service.sweep_signal_loss(db_session, settings, hub) == 0
        [alert] = await _alerts(db_session, who.patient.id)
        assert alert.rule == "signal_loss"
        # The phone signs in again later on (tokens are judged by the service's clock).
        headers = await factories.bearer(db_session, settings, who.account)
        await upload(client, headers, [cgm_item(who.cgm, utcnow(), 6.1)])
    await db_session.refresh(alert)
    assert alert.episode_ended_at is not None


async def test_doctor_lists_and_acknowledges(client, db_session, settings, watched) -> None:
    who, doctor_account, headers, _ = watched
    await upload(client, who.headers, [cgm_item(who.cgm, utcnow(), 2.5)])
    listed = (await client.get("/api/v1/alerts", headers=headers)).json()["items"]
    assert [(a["rule"], a["title"]) for a in listed] == [("urgent_low", "紧急低血糖")]
    other = await doctor_for(db_session, settings, (await wearer(db_session, settings)).patient)
    url = f"/api/v1/alerts/{listed[0]['id']}/acknowledge"
    assert (await client.post(url, headers=other[2])).status_code == 404
    acknowledged = (await client.post(url, headers=headers)).json()
    assert acknowledged["acknowledged_by"] == str(doctor_account.id)
    assert (await client.post(url, headers=headers)).json() == acknowledged
    assert (await client.get("/api/v1/alerts", headers=headers)).json()["items"] == []
    everything = await client.get("/api/v1/alerts?unacknowledged=false", headers=headers)
    assert len(everything.json()["items"]) == 1
    mine = (await client.get("/api/v1/alerts?unacknowledged=false", headers=who.headers)).json()
    assert len(mine["items"]) == 1


async def test_urgency_by_patient(client, db_session, settings) -> None:
    urgent = await wearer(db_session, settings)
    watch = await wearer(db_session, settings)
    calm = await wearer(db_session, settings)
    now = utcnow()
    await upload(client, urgent.headers, [cgm_item(urgent.cgm, now, 2.5)])
    await upload(client, urgent.headers, [bp_item(urgent.bp, now, 185, 100)])
    await upload(client, watch.headers, [cgm_item(watch.cgm, now - timedelta(hours=3), 6.0)])
    await alert_service.sweep_signal_loss(db_session, settings, _null_hub())
    found = await urgency_by_patient(
        db_session, [urgent.patient.id, watch.patient.id, calm.patient.id]
    )
    assert found[urgent.patient.id] == Urgency(3, 2, ("bp_grade3", "urgent_low"))
    assert found[watch.patient.id] == Urgency(1, 1, ("signal_loss",))
    assert found[calm.patient.id] == Urgency(0, 0, ())


def _null_hub():
    from app.realtime.hub import InProcessHub

    return InProcessHub()


async def _patient_pushes(db_session, alert_id) -> dict[str, dict]:
    rows = await db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.idempotency_key.like(f"alert_%:{alert_id}"))
    )
    return {row.payload["template"]: row.payload for row in rows}


async def test_an_urgent_alert_and_its_acknowledgement_reach_the_patient_once(
    client, db_session, watched
) -> None:
    who, _, headers, _ = watched
    await upload(client, who.headers, [cgm_item(who.cgm, utcnow(), 2.5)])
    [alert] = await _alerts(db_session, who.patient.id)
    raised = (await _patient_pushes(db_session, alert.id))["alert_raised"]
    assert raised["recipient"] == str(who.patient.account_id)
    assert raised["data"]["summary"] == "紧急低血糖"  # Chinese, whoever uploaded
    url = f"/api/v1/alerts/{alert.id}/acknowledge"
    english = {**headers, "Accept-Language": "en"}
    await client.post(url, headers=english)
    await client.post(url, headers=english)
    pushes = await _patient_pushes(db_session, alert.id)
    assert set(pushes) == {"alert_raised", "alert_acknowledged"}
    assert pushes["alert_acknowledged"]["data"]["summary"] == "紧急低血糖"
    assert pushes["alert_acknowledged"]["data"]["doctor"]


async def test_a_watch_level_alert_is_for_the_doctor_only(client, db_session, watched) -> None:
    who, _, _, _ = watched
    now = utcnow()
    earlier = [cgm_item(who.cgm, now - timedelta(minutes=m), 15.0) for m in range(125, 4, -5)]
    await upload(client, who.headers, earlier)
    await upload(client, who.headers, [cgm_item(who.cgm, now, 14.5)])
    [alert] = await _alerts(db_session, who.patient.id)
    assert (alert.rule, alert.level) == ("sustained_high", 2)
    assert await _patient_pushes(db_session, alert.id) == {}
