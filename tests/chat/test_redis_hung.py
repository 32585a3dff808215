"""A Redis that accepts connections but never answers (hung, or stopped with SIGSTOP): a chat
send still completes quickly and is stored, as with Redis down (tests/faults)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select

from app.chat.runtime import ChatRuntime
from app.models import ChatMessage
from app.realtime.hub import create_hub
from tests.chat.conftest import send_text

# With Redis hung, a send waited 9 s (rate limit 5 s, presence 2 s, publishing 2 s).
SEND_BOUND_SECONDS = 2.0


@asynccontextmanager
async def hung_redis() -> AsyncIterator[tuple[str, list[asyncio.StreamWriter]]]:
    """A server that takes connections and whatever is sent on them, and never replies;
    yields its URL and the connections it has taken."""
    taken: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        taken.append(writer)
        while await reader.read(65536):
            pass

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"redis://127.0.0.1:{port}/0", taken
    finally:
        server.close()
        for writer in taken:
            writer.close()
        await server.wait_closed()


async def test_a_send_with_redis_hung_is_stored_at_once(app, client, chat, db_session) -> None:
    async with hung_redis() as (url, taken):
        settings = app.state.settings.model_copy(update={"redis_url": url})
        hub = create_hub(settings)
        await hub.start()
        app.state.settings, app.state.hub = settings, hub
        app.state.chat_runtime = ChatRuntime(settings, hub)
        try:
            started = time.perf_counter()
            response = await send_text(client, chat, chat.patient_phone, "今天血糖 5.6")
            elapsed = time.perf_counter() - started
        finally:
            await app.state.chat_runtime.close()
            await hub.stop()
        # The rate limit, presence and publishing each went to the hung server.
        assert len(taken) >= 3
    assert response.status_code == 201
    assert elapsed < SEND_BOUND_SECONDS
    stored = await db_session.scalar(
        select(ChatMessage.body).where(ChatMessage.conversation_id == chat.conversation_id)
    )
    assert stored is not None and stored["text"] == "今天血糖 5.6"
