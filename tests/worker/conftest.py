"""What the worker's jobs run with, over the run's database."""

from __future__ import annotations

import httpx
import pytest

from app import worker
from app.kit.blobstore import LocalBlobStore
from app.realtime.hub import create_hub


@pytest.fixture
async def job_context(engine, settings, tmp_path):
    hub = create_hub(settings)
    await hub.start()
    async with httpx.AsyncClient() as http:
        yield worker.JobContext(
            engine,
            worker.create_sessionmaker(engine),
            settings,
            hub,
            LocalBlobStore(tmp_path / "blobs"),
            http,
        )
    await hub.stop()
