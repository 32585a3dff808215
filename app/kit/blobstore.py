"""Blob storage for uploaded files (medical records, chat images and voice): a local directory
by default, any S3-compatible service when configured. Rows keep only the key, never the bytes."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import Any, Literal, Protocol

_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,255}$")


class BlobNotFound(KeyError):
    """No blob is stored under that key."""


class BlobStore(Protocol):
    """Where file bytes live."""

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key` (overwrites)."""

    async def get(self, key: str) -> bytes:
        """The bytes under `key`; BlobNotFound if absent."""

    async def delete(self, key: str) -> None:
        """Remove `key` (absent keys are fine)."""


def new_blob_key(prefix: str) -> str:
    """A fresh unguessable key under `prefix` (e.g. "records/<patient id>")."""
    return f"{prefix.strip('/')}/{uuid.uuid4().hex}"


def _checked(key: str) -> str:
    if not _SAFE_KEY.match(key) or ".." in key.split("/"):
        raise ValueError(f"unsafe blob key: {key!r}")
    return key


class LocalBlobStore:
    """Files under a directory; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        return self._root / _checked(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`."""
        await asyncio.to_thread(self._write, self._path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        """The bytes under `key`."""
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

    async def delete(self, key: str) -> None:
        """Remove `key`."""
        await asyncio.to_thread(self._path(key).unlink, True)


class S3BlobStore:
    """Objects in an S3-compatible bucket (boto3, run in a worker thread)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`."""
        await asyncio.to_thread(
            self._client.put_object,
            Bucket=self._bucket,
            Key=_checked(key),
            Body=data,
            ContentType=content_type,
        )

    async def get(self, key: str) -> bytes:
        """The bytes under `key`."""
        try:
            response = await asyncio.to_thread(
                self._client.get_object, Bucket=self._bucket, Key=_checked(key)
            )
        except self._client.exceptions.NoSuchKey as exc:
            raise BlobNotFound(key) from exc
        body: bytes = await asyncio.to_thread(response["Body"].read)
        return body

    async def delete(self, key: str) -> None:
        """Remove `key`."""
        await asyncio.to_thread(self._client.delete_object, Bucket=self._bucket, Key=_checked(key))


class BlobSettings(Protocol):
    """The settings a blob store is made from (app.config.Settings has them); kit sits below
    the settings, so it names what it reads instead of importing them."""

    blob_store: Literal["local", "s3"]
    blob_dir: str
    s3_endpoint_url: str | None
    s3_bucket: str
    s3_region: str
    s3_access_key_id: str | None
    s3_secret_access_key: str | None


def create_blob_store(settings: BlobSettings) -> BlobStore:
    """The store BLOB_STORE names: "local" (BLOB_DIR) or "s3" (S3_* settings)."""
    if settings.blob_store == "s3":
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
        )
        return S3BlobStore(client, settings.s3_bucket)
    return LocalBlobStore(Path(settings.blob_dir))
