"""Blob stores keep bytes out of the database: local directory and S3-compatible."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from app.kit.blobstore import BlobNotFound, LocalBlobStore, S3BlobStore, new_blob_key


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        yield LocalBlobStore(tmp_path)
        return
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="records")
        yield S3BlobStore(client, "records")


async def test_put_get_delete_round_trip(store) -> None:
    key = new_blob_key("records/patient-1")
    await store.put(key, b"%PDF-1.7 record", "application/pdf")
    assert await store.get(key) == b"%PDF-1.7 record"
    await store.delete(key)
    with pytest.raises(BlobNotFound):
        await store.get(key)


async def test_missing_key_is_blob_not_found(store) -> None:
    with pytest.raises(BlobNotFound):
        await store.get("records/none")


@pytest.mark.parametrize("key", ["../etc/passwd", "a/../../b", "/abs", "", "a b"])
async def test_unsafe_keys_are_refused(tmp_path, key: str) -> None:
    with pytest.raises(ValueError):
        await LocalBlobStore(tmp_path).put(key, b"x", "text/plain")


def test_new_keys_are_unique_under_their_prefix() -> None:
    first, second = new_blob_key("chat/c1"), new_blob_key("chat/c1")
    assert first != second and first.startswith("chat/c1/")
