"""Helpers for chat tests against real servers: committed conversations, websocket frames."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection

from app.chat.conversations import ensure_care_conversation
from app.models import Role
from tests.fixtures import factories
from tests.realtime.clients import User, recv_json


@dataclass(frozen=True)
class LiveChat:
    """A committed care conversation and its two signed-in people."""

    conversation_id: uuid.UUID
    patient: User
    doctor: User


async def live_chat(sessionmaker: Any, settings: Any) -> LiveChat:
    """Commit a patient, a doctor, their care relationship and its conversation."""
    async with sessionmaker() as session:
        patient = await factories.account(session, Role.patient)
        doctor = await factories.account(session, Role.doctor)
        care = await factories.care(
            session,
            await factories.patient_of(session, patient),
            await factories.doctor_of(session, doctor),
        )
        conversation = await ensure_care_conversation(session, care.id)
        patient_headers = await factories.bearer(session, settings, patient)
        doctor_headers = await factories.bearer(session, settings, doctor)
        await session.commit()

    def user(account_id: uuid.UUID, headers: dict[str, str]) -> User:
        return User(account_id, headers["Authorization"].removeprefix("Bearer "))

    return LiveChat(
        conversation.id, user(patient.id, patient_headers), user(doctor.id, doctor_headers)
    )


async def send_frame(
    ws: ClientConnection, conversation_id: uuid.UUID, text: str, client_msg_id: str | None = None
) -> None:
    """Send a chat.send frame (its ref is the client message id)."""
    client_msg_id = client_msg_id or uuid.uuid4().hex
    await ws.send(
        json.dumps(
            {
                "type": "chat.send",
                "ref": client_msg_id,
                "conversation_id": str(conversation_id),
                "client_msg_id": client_msg_id,
                "kind": "text",
                "text": text,
            }
        )
    )


async def next_of(ws: ClientConnection, kind: str, within: float = 10.0) -> dict[str, Any]:
    """The next frame of type `kind` (or any type under `kind` ending in "."), skipping others."""
    while True:
        frame = await recv_json(ws, within)
        if frame["type"] == kind or (kind.endswith(".") and frame["type"].startswith(kind)):
            return frame
