"""Chat's periodic work: unsent attachments expire.

    python -m app.chat.jobs              # once
    python -m app.chat.jobs --every 300  # for ever, every 300 s

An attachment uploaded and never sent in a message expires CHAT_ATTACHMENT_UNSENT_TTL_SECONDS
after its upload: a pass marks it expired (it can no longer be sent or fetched), deletes its
blob, then its row. A pass interrupted between the two is finished by the next one. Safe to run
in several processes at once (rows are claimed with SKIP LOCKED, deletes are idempotent); web
processes run it with the other periodic jobs when BACKGROUND_JOBS_ENABLED.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.chat import repository as chat_repository
from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker, unit_of_work
from app.kit.blobstore import BlobStore, create_blob_store
from app.kit.clock import utcnow

log = structlog.get_logger(__name__)

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


async def run_forever(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, blobs: BlobStore
) -> None:
    """Expire attachments every CHAT_ATTACHMENT_EXPIRY_INTERVAL_SECONDS until cancelled; a
    failed pass is logged and tried again at the next."""
    while True:
        try:
            removed = await expire_unsent_attachments(sessionmaker, blobs, settings)
            if removed:
                log.info("unsent chat attachments expired", removed=removed)
        except Exception:
            log.exception("chat attachment expiry pass failed")
        await asyncio.sleep(settings.chat_attachment_expiry_interval_seconds)


async def main(every: float | None) -> None:
    """Run the expiry once, or every `every` seconds."""
    settings = get_settings()
    engine = create_engine(settings)
    try:
        sessionmaker = create_sessionmaker(engine)
        blobs = create_blob_store(settings)
        while True:
            removed = await expire_unsent_attachments(sessionmaker, blobs, settings)
            print(f"unsent chat attachments expired: {removed}", flush=True)
            if every is None:
                return
            await asyncio.sleep(every)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=float, default=None, help="seconds between runs")
    asyncio.run(main(parser.parse_args().every))
