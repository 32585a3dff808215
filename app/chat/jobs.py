"""Chat's periodic work, run by `app.worker` (the `chat-attachment-expiry` job): unsent
attachments expire.

An attachment uploaded and never sent in a message expires CHAT_ATTACHMENT_UNSENT_TTL_SECONDS
after its upload: a pass marks it expired (it can no longer be sent or fetched), deletes its
blob, then its row. A pass interrupted between the two is finished by the next one. Safe to run
in several processes at once (rows are claimed with SKIP LOCKED, deletes are idempotent); web
processes run it with the other periodic jobs when BACKGROUND_JOBS_ENABLED.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.chat import repository as chat_repository
from app.config import Settings
from app.db import unit_of_work
from app.kit.blobstore import BlobStore
from app.kit.clock import utcnow

BATCH_SIZE = 200


async def expire_unsent_attachments(
    sessionmaker: async_sessionmaker[AsyncSession],
    blobs: BlobStore,
    settings: Settings,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Expire every unsent attachment past its time; how many were removed."""
    removed = 0
    while True:
        now = utcnow()
        cutoff = now - timedelta(seconds=settings.chat_attachment_unsent_ttl_seconds)
        # Committed before any blob goes: from here on no message can carry these.
        async with unit_of_work(sessionmaker) as session:
            claimed = await chat_repository.claim_expired_attachments(
                session, cutoff, now, batch_size
            )
        if not claimed:
            return removed
        for _, blob_key in claimed:
            await blobs.delete(blob_key)
        async with unit_of_work(sessionmaker) as session:
            await chat_repository.delete_attachments(session, [a for a, _ in claimed])
        removed += len(claimed)
        if len(claimed) < batch_size:
            return removed
