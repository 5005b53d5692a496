"""The running kernel's services, handed to plugins by the lifecycle hooks."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import urllib3
from minio import Minio

from kernel.auth.permissions import PermissionRegistry
from kernel.bundles.sync import BundleSync
from kernel.cache import Cache, InProcessCache, RedisCache
from kernel.crypto import Encryptor, new_key, parse_keys
from kernel.db import Database
from kernel.db.embedded import start_embedded_postgres
from kernel.documents import DocumentStore, build_document_store
from kernel.hooks import Hooks
from kernel.installations.states import InstalledPluginStates
from kernel.jobs import JobQueue
from kernel.jobs.queue import namespace_of
from kernel.local_secrets import local_secret
from kernel.plugin_manager import KernelPluginManager
from kernel.pubsub import PubSub, build_pubsub
from kernel.remote.sync import RemoteSync
from kernel.settings import Settings
from kernel.storage import LocalStorage, MinioStorage, ObjectStorage

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Kernel:
    settings: Settings
    plugins: KernelPluginManager
    database: Database
    # Reads made by hooks that get no session (pricing, tax, payment providers) while
    # their request may hold a connection of ``database``: a pool of their own, so such
    # a read never waits for a connection its own request is holding. Short reads only.
    lookups: Database
    cache: Cache
    pubsub: PubSub
    storage: ObjectStorage
    encryptor: Encryptor
    permissions: PermissionRegistry
    # The one way to call a domain hook: for an organization, its enabled plugins only.
    hooks: Hooks
    # Plugins' unstructured documents; a plugin reaches its own through ``ctx.documents``.
    documents: DocumentStore
    # Singletons plugins build at start-up (``kernel.services["identity"]``), by slug.
    services: dict[str, object] = field(default_factory=dict)
    # The bundle plugins this process runs, kept as plugin_deployment says.
    bundles: BundleSync = field(init=False)
    # The remote plugins this process runs a proxy for, kept as remote_plugin says.
    remote: RemoteSync = field(init=False)
    # Background jobs: ``await kernel.jobs.enqueue("plugin.job", **arguments)``.
    jobs: JobQueue = field(init=False)


def resolve_database_url(settings: Settings) -> str:
    """``DATABASE_URL`` if set, else the embedded PostgreSQL in the data directory."""
    if settings.database_url:
        return settings.database_url
    return start_embedded_postgres(settings.data_dir)


def build_cache(settings: Settings) -> Cache:
    if settings.redis_url:
        return RedisCache.from_url(settings.redis_url)
    logger.info("no REDIS_URL set: using the in-process cache and rate-limit store")
    return InProcessCache()


def build_storage(settings: Settings) -> ObjectStorage:
    if not settings.storage_endpoint:
        logger.info(
            "no object storage endpoint set: storing objects in a local directory",
            extra={"directory": str(settings.storage_dir)},
        )
        return LocalStorage(settings.storage_dir)
    client = Minio(
        settings.storage_endpoint,
        access_key=settings.storage_access_key,
        secret_key=settings.storage_secret_key,
        secure=settings.storage_secure,
        region=settings.storage_region,
        http_client=urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3, read=15),
            retries=urllib3.Retry(total=2, backoff_factor=0.2),
        ),
    )
    return MinioStorage(client, settings.storage_bucket)


def build_kernel(settings: Settings, plugins: KernelPluginManager) -> Kernel:
    database = Database(
        resolve_database_url(settings),
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        connect_timeout=settings.database_connect_timeout_seconds,
    )
    lookups = Database(
        database.url,
        pool_size=settings.database_lookup_pool_size,
        max_overflow=settings.database_lookup_pool_size,
        connect_timeout=settings.database_connect_timeout_seconds,
    )
    encryptor = build_encryptor(settings)
    kernel = Kernel(
        settings=settings,
        plugins=plugins,
        database=database,
        lookups=lookups,
        cache=build_cache(settings),
        pubsub=build_pubsub(settings),
        storage=build_storage(settings),
        encryptor=encryptor,
        permissions=PermissionRegistry.from_plugins(plugins),
        hooks=Hooks(plugins, InstalledPluginStates(plugins, lookups, encryptor)),
        documents=build_document_store(settings, database),
    )
    kernel.hooks.kernel = kernel
    kernel.bundles = BundleSync(kernel)
    kernel.remote = RemoteSync(kernel)
    kernel.jobs = JobQueue(settings, kernel.cache, namespace=namespace_of(kernel.database.url))
    return kernel


def build_encryptor(settings: Settings) -> Encryptor:
    keys = settings.encryption_keys or [
        local_secret(
            settings.data_dir,
            "TICKETING_ENCRYPTION_KEYS",
            environment=settings.environment,
            generate=new_key,
        )
    ]
    return Encryptor(parse_keys(keys))
