"""Object storage: S3-compatible (MinIO client) when an endpoint is set, else a directory."""

from __future__ import annotations

import asyncio
import io
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from minio import Minio
from minio.error import S3Error


class ObjectNotFound(KeyError):
    pass


class ObjectStorage(Protocol):
    backend: str

    async def put(self, key: str, data: bytes, *, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...

    async def presigned_get_url(
        self, key: str, *, expires: timedelta, issued_at: datetime | None = None
    ) -> str | None:
        """A URL that downloads ``key`` without credentials until ``expires`` after
        ``issued_at`` (default: now), or None when the backend cannot make one (the API
        then serves the object itself)."""
        ...

    async def check(self) -> None:
        """Raise if the storage cannot be used."""
        ...


class LocalStorage:
    backend = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"object key {key!r} leaves the storage directory")
        return path

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        path = self._path(key)
        await asyncio.to_thread(_write_atomically, path, data)

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def presigned_get_url(
        self, key: str, *, expires: timedelta, issued_at: datetime | None = None
    ) -> str | None:
        return None  # a directory has no URLs: the API serves its objects

    async def check(self) -> None:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        probe = self.root / ".ready"
        await asyncio.to_thread(probe.write_bytes, b"ok")


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers see the old object or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as f:
        f.write(data)
    Path(f.name).replace(path)


class MinioStorage:
    backend = "s3"

    def __init__(self, client: Minio, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    async def ensure_bucket(self) -> None:
        if not await asyncio.to_thread(self.client.bucket_exists, self.bucket):
            await asyncio.to_thread(self.client.make_bucket, self.bucket)

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        def write() -> None:
            self.client.put_object(
                self.bucket, key, io.BytesIO(data), len(data), content_type=content_type
            )

        try:
            await asyncio.to_thread(write)
        except S3Error as exc:
            if exc.code != "NoSuchBucket":
                raise
            # Storage was unreachable at start-up, or the bucket was removed since.
            await self.ensure_bucket()
            await asyncio.to_thread(write)

    async def get(self, key: str) -> bytes:
        def read() -> bytes:
            response = self.client.get_object(self.bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        try:
            return await asyncio.to_thread(read)
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                raise ObjectNotFound(key) from exc
            raise

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.remove_object, self.bucket, key)

    async def presigned_get_url(
        self, key: str, *, expires: timedelta, issued_at: datetime | None = None
    ) -> str | None:
        # Signing is local, but the client may first ask the bucket's region (no region set).
        return await asyncio.to_thread(
            self.client.presigned_get_object,
            self.bucket,
            key,
            expires=expires,
            request_date=issued_at,
        )

    async def check(self) -> None:
        if not await asyncio.to_thread(self.client.bucket_exists, self.bucket):
            raise RuntimeError(f"bucket {self.bucket!r} does not exist")
