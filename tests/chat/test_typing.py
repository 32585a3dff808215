"""Typing indicators: memory only, announced once, ended by a timeout without any new frame."""

from __future__ import annotations

import uuid

from app.chat.runtime import TypingTracker
from app.realtime.hub import InProcessHub
from tests.fixtures.servers import wait_until
from tests.realtime.recording import RecordingConnection


async def test_typing_is_announced_once_and_expires_by_itself() -> None:
    hub, doctor = InProcessHub(), RecordingConnection()
    doctor_id, patient_id, conversation_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await hub.register(doctor_id, doctor)
    tracker = TypingTracker(hub, timeout_seconds=0.2)
    tracker.started(conversation_id, patient_id, [doctor_id])
    tracker.started(conversation_id, patient_id, [doctor_id])  # still typing: no new event
    await wait_until(lambda: len(doctor.events) >= 2, within=3.0, what="typing to expire")
    assert [e["typing"] for e in doctor.events] == [True, False]
    assert doctor.events[0]["account_id"] == str(patient_id)
    assert not tracker.is_typing(conversation_id, patient_id)


async def test_sending_ends_typing_quietly() -> None:
    hub, doctor = InProcessHub(), RecordingConnection()
    doctor_id, patient_id, conversation_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await hub.register(doctor_id, doctor)
    tracker = TypingTracker(hub, timeout_seconds=0.1)
    tracker.started(conversation_id, patient_id, [doctor_id])
    await wait_until(lambda: len(doctor.events) == 1)
    tracker.sent(conversation_id, patient_id)
    assert not tracker.is_typing(conversation_id, patient_id)
    # The client clears the indicator on the message itself; no "typing: false" follows.
    tracker.started(conversation_id, patient_id, [doctor_id])
    await wait_until(lambda: len(doctor.events) == 3, within=3.0)
    assert [e["typing"] for e in doctor.events] == [True, True, False]
