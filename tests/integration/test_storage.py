"""Object storage: the local directory backend, and S3 against a real S3-compatible server."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest

from kernel.app import create_app
from kernel.context import build_storage
from kernel.settings import Settings
from kernel.storage import LocalStorage, MinioStorage, ObjectNotFound
from tests.conftest import make_settings
from tests.support.live_server import live_server
from tests.support.openapi_contract import checked_client

PROBLEM = "application/problem+json"


# -- local directory --------------------------------------------------------------------


async def test_local_storage_puts_gets_overwrites_and_deletes(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    storage = LocalStorage(root)
    await storage.check()

    await storage.put("tickets/2025/a.pdf", b"%PDF-1", content_type="application/pdf")
    assert await storage.get("tickets/2025/a.pdf") == b"%PDF-1"
    assert (root / "tickets" / "2025" / "a.pdf").read_bytes() == b"%PDF-1"
    await storage.put("tickets/2025/a.pdf", b"%PDF-2", content_type="application/pdf")
    assert await storage.get("tickets/2025/a.pdf") == b"%PDF-2"
    assert sorted(p.name for p in (root / "tickets" / "2025").iterdir()) == ["a.pdf"]

    await storage.delete("tickets/2025/a.pdf")
    with pytest.raises(ObjectNotFound):
        await storage.get("tickets/2025/a.pdf")
    await storage.delete("tickets/2025/a.pdf")  # deleting twice is not an error
    with pytest.raises(ObjectNotFound):
        await storage.get("never/written")


@pytest.mark.parametrize("key", ["../escape", "a/../../escape", "{absolute}"])
async def test_local_storage_refuses_keys_outside_its_directory(tmp_path: Path, key: str) -> None:
    root = tmp_path / "objects"
    storage = LocalStorage(root)
    (tmp_path / "escape").write_bytes(b"secret")
    key = key.format(absolute=tmp_path / "escape")

    with pytest.raises(ValueError, match="leaves the storage directory"):
        await storage.put(key, b"overwritten", content_type="text/plain")
    with pytest.raises(ValueError, match="leaves the storage directory"):
        await storage.get(key)
    with pytest.raises(ValueError, match="leaves the storage directory"):
        await storage.delete(key)

    assert (tmp_path / "escape").read_bytes() == b"secret"


# -- S3 (moto's server) -----------------------------------------------------------------


def s3_settings(tmp_path: Path, endpoint: str, **overrides) -> Settings:
    values = {
        "storage_endpoint": endpoint,
        "storage_access_key": "test",
        "storage_secret_key": "test",
        "storage_secure": False,
        "storage_region": "us-east-1",
        "storage_bucket": f"test-{uuid.uuid4().hex[:12]}",
    }
    values.update(overrides)
    return make_settings(tmp_path, **values)


async def test_s3_storage_round_trip(tmp_path: Path, s3_server: str) -> None:
    storage = build_storage(s3_settings(tmp_path, s3_server))
    assert isinstance(storage, MinioStorage)
    assert storage.backend == "s3"
    with pytest.raises(RuntimeError, match=storage.bucket):
        await storage.check()

    await storage.ensure_bucket()
    await storage.ensure_bucket()  # idempotent
    await storage.check()

    await storage.put("tickets/a.pdf", b"%PDF-1\x00\xff", content_type="application/pdf")
    assert await storage.get("tickets/a.pdf") == b"%PDF-1\x00\xff"
    stat = storage.client.stat_object(storage.bucket, "tickets/a.pdf")
    assert stat.content_type == "application/pdf"
    await storage.put("tickets/a.pdf", b"%PDF-2", content_type="application/pdf")
    assert await storage.get("tickets/a.pdf") == b"%PDF-2"

    await storage.delete("tickets/a.pdf")
    with pytest.raises(ObjectNotFound):
        await storage.get("tickets/a.pdf")
    await storage.delete("tickets/a.pdf")  # deleting twice is not an error, as locally
    with pytest.raises(ObjectNotFound):
        await storage.get("never/written")


async def test_s3_put_creates_a_bucket_that_was_missing(tmp_path: Path, s3_server: str) -> None:
    """Storage unreachable at start-up (or the bucket removed): the first write recovers."""
    storage = build_storage(s3_settings(tmp_path, s3_server))
    await storage.put("logos/org.png", b"\x89PNG", content_type="image/png")
    assert await storage.get("logos/org.png") == b"\x89PNG"
    await storage.check()


async def test_ready_reports_s3_storage_and_503_when_its_bucket_goes_missing(
    tmp_path: Path, s3_server: str, database_url: str, redis_url: str
) -> None:
    settings = s3_settings(tmp_path, s3_server, database_url=database_url, redis_url=redis_url)
    bucket = settings.storage_bucket
    admin = build_storage(settings)
    assert isinstance(admin, MinioStorage)
    assert not admin.client.bucket_exists(bucket)

    with live_server(create_app(settings)) as url:
        async with checked_client(url, timeout=30) as http:
            assert admin.client.bucket_exists(bucket), "startup creates the bucket"
            ready = await http.get("/health/ready")
            assert ready.status_code == 200
            assert ready.json()["checks"]["storage"] == {"backend": "s3", "status": "ok"}

            admin.client.remove_bucket(bucket)
            missing = await http.get("/health/ready")

    assert missing.status_code == 503
    assert missing.headers["content-type"] == PROBLEM
    body = missing.json()
    assert body["detail"] == "not ready: storage"
    assert body["checks"]["storage"]["backend"] == "s3"
    assert body["checks"]["storage"]["status"] == "error"
    assert bucket in body["checks"]["storage"]["error"]
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["cache"]["status"] == "ok"


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_ready_answers_503_naming_storage_when_s3_is_unreachable(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    settings = s3_settings(
        tmp_path,
        f"127.0.0.1:{closed_port()}",
        database_url=database_url,
        redis_url=redis_url,
    )
    with live_server(create_app(settings)) as url:
        async with checked_client(url, timeout=30) as http:
            response = await http.get("/health/ready")

    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["detail"] == "not ready: storage"
    assert body["checks"]["storage"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"
