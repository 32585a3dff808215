"""Chat over real websockets (in-process and Redis hubs): send, ack, retry, sync, typing."""

from __future__ import annotations

import json

import httpx

from tests.chat.live import live_chat, next_of, send_frame
from tests.realtime.clients import authed


def _http(ws_url: str) -> str:
    return ws_url.replace("ws://", "http://", 1).removesuffix("/ws")


async def test_send_is_acked_with_its_seq_and_reaches_the_other_party(
    start_gateway, realtime_db
) -> None:
    chat = await live_chat(realtime_db.sessionmaker, realtime_db.settings)
    async with (
        start_gateway() as gateway,
        authed(gateway.url, chat.doctor) as doctor,
        authed(gateway.url, chat.patient) as patient,
    ):
        await send_frame(patient, chat.conversation_id, "早上血糖7.8", "ws-1")
        ack = await next_of(patient, "chat.ack")
        assert ack["ref"] == "ws-1" and ack["created"] is True
        seq = ack["message"]["seq"]
        delivered = await next_of(doctor, "chat.message")
        assert delivered["message"] == ack["message"]

        await send_frame(patient, chat.conversation_id, "早上血糖7.8", "ws-1")
        retry = await next_of(patient, "chat.ack")
        assert retry["created"] is False and retry["message"] == ack["message"]
        # The retry fanned nothing out: the doctor's next message is the next seq.
        await send_frame(patient, chat.conversation_id, "下一条", "ws-2")
        assert (await next_of(doctor, "chat.message"))["message"]["seq"] == seq + 1


async def test_reconnect_sync_has_no_gap_and_no_duplicate(start_gateway, realtime_db) -> None:
    chat = await live_chat(realtime_db.sessionmaker, realtime_db.settings)
    conversation = str(chat.conversation_id)
    async with start_gateway() as gateway:
        http = httpx.AsyncClient(
            base_url=_http(gateway.url),
            headers={"Authorization": f"Bearer {chat.patient.token}"},
        )
        async with http, authed(gateway.url, chat.patient) as patient:
            async with authed(gateway.url, chat.doctor) as doctor:
                for n in range(3):
                    await send_frame(patient, chat.conversation_id, f"live {n}")
                held = [(await next_of(doctor, "chat.message"))["message"]["seq"] for _ in range(3)]
            assert held == [1, 2, 3]
            # The doctor is offline while these are sent.
            for n in range(3):
                response = await http.post(
                    f"/api/v1/chat/conversations/{conversation}/messages",
                    json={"client_msg_id": f"offline-{n}", "kind": "text", "text": f"off {n}"},
                )
                assert response.status_code == 201
            async with authed(gateway.url, chat.doctor) as doctor:
                # Socket first, then sync: a message sent in between arrives live or in the sync,
                # possibly both, and the seq tells which to drop.
                await send_frame(patient, chat.conversation_id, "while reconnecting")
                await doctor.send(
                    json.dumps({"type": "chat.sync", "ref": "s", "since": {conversation: 3}})
                )
                live, synced = [], []
                while not synced or 7 not in {*live, *synced}:
                    frame = await next_of(doctor, "chat.")
                    if frame["type"] == "chat.message":
                        live.append(frame["message"]["seq"])
                    elif frame["type"] == "chat.synced":
                        synced = [m["seq"] for m in frame["conversations"][0]["messages"]]
            assert synced == list(range(4, 4 + len(synced)))
            assert sorted(set(live) | set(synced)) == [4, 5, 6, 7]
            assert min(synced) == 4 and all(s > 3 for s in live)


async def test_typing_reaches_the_other_party_and_times_out(start_gateway, realtime_db) -> None:
    chat = await live_chat(realtime_db.sessionmaker, realtime_db.settings)
    frame = {"type": "chat.typing", "conversation_id": str(chat.conversation_id)}
    async with (
        start_gateway(chat_typing_timeout_seconds=0.3) as gateway,
        authed(gateway.url, chat.doctor) as doctor,
        authed(gateway.url, chat.patient) as patient,
    ):
        await patient.send(json.dumps(frame))
        started = await next_of(doctor, "chat.typing")
        assert started["typing"] is True and started["account_id"] == str(chat.patient.id)
        stopped = await next_of(doctor, "chat.typing")
        assert stopped["typing"] is False


async def test_frames_for_someone_elses_conversation_are_not_found(
    start_gateway, realtime_db
) -> None:
    chat = await live_chat(realtime_db.sessionmaker, realtime_db.settings)
    other = await live_chat(realtime_db.sessionmaker, realtime_db.settings)
    async with start_gateway() as gateway, authed(gateway.url, chat.patient) as patient:
        await send_frame(patient, other.conversation_id, "hi", "x-1")
        error = await next_of(patient, "error")
        assert error["code"] == "not_found" and error["ref"] == "x-1"
        await patient.send(
            json.dumps(
                {"type": "chat.typing", "ref": "t", "conversation_id": str(other.conversation_id)}
            )
        )
        assert (await next_of(patient, "error"))["code"] == "not_found"
        await patient.send(json.dumps({"type": "chat.send", "ref": "bad", "conversation_id": "x"}))
        assert (await next_of(patient, "error"))["code"] == "validation_failed"


async def test_reconnect_catches_up_every_conversation_with_one_cursor(
    start_gateway, realtime_db
) -> None:
    chat = await live_chat(realtime_db.sessionmaker, realtime_db.settings)
    async with start_gateway() as gateway, authed(gateway.url, chat.patient) as patient:
        async with authed(gateway.url, chat.doctor) as doctor:
            await send_frame(patient, chat.conversation_id, "first")
            await next_of(patient, "chat.ack")  # else the loop below waits on this ack
            await next_of(doctor, "chat.message")
            await doctor.send(json.dumps({"type": "chat.changes", "ref": "c1"}))
            first = await next_of(doctor, "chat.changes")
        assert [m["seq"] for m in first["messages"]] == [1] and not first["has_more"]
        # The doctor is offline while these are sent.
        for n in range(3):
            await send_frame(patient, chat.conversation_id, f"offline {n}")
            await next_of(patient, "chat.ack")
        async with authed(gateway.url, chat.doctor) as doctor:
            await doctor.send(
                json.dumps(
                    {"type": "chat.changes", "ref": "c2", "since": first["cursor"], "limit": 2}
                )
            )
            page = await next_of(doctor, "chat.changes")
            assert [m["seq"] for m in page["messages"]] == [2, 3] and page["has_more"]
            await doctor.send(
                json.dumps({"type": "chat.changes", "ref": "c3", "since": page["cursor"]})
            )
            rest = await next_of(doctor, "chat.changes")
        assert [m["seq"] for m in rest["messages"]] == [4] and not rest["has_more"]
