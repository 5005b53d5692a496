"""Settings from the environment and ``.env``; README's settings table documents each."""

import ipaddress
import tempfile
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def env_var(name: str) -> AliasChoices:
    """The alias a setting is read from: the environment variable ``name`` (upper case,
    as README documents it) or its lower-case spelling in ``.env``."""
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    environment: Literal["development", "test", "production"] = Field(
        "development", validation_alias=env_var("TICKETING_ENV")
    )
    data_dir: Path = Field(Path(".ticketing"), validation_alias=env_var("TICKETING_DATA_DIR"))

    database_url: str | None = Field(None, validation_alias=env_var("DATABASE_URL"))
    database_pool_size: int = Field(20, ge=1, validation_alias=env_var("TICKETING_DB_POOL_SIZE"))
    database_max_overflow: int = Field(
        10, ge=0, validation_alias=env_var("TICKETING_DB_MAX_OVERFLOW")
    )
    database_lookup_pool_size: int = Field(
        5, ge=1, validation_alias=env_var("TICKETING_DB_LOOKUP_POOL_SIZE")
    )
    # The buying path's admission limits (kernel.admission); 0 turns one off. The
    # process-wide one defaults to the pool size, and may not exceed what the pool serves.
    admission_per_event: int = Field(
        6, ge=0, le=10_000, validation_alias=env_var("TICKETING_ADMISSION_PER_EVENT")
    )
    admission_per_process: int | None = Field(
        None, ge=0, le=10_000, validation_alias=env_var("TICKETING_ADMISSION_PER_PROCESS")
    )
    admission_retry_after_seconds: int = Field(
        1, ge=1, le=60, validation_alias=env_var("TICKETING_ADMISSION_RETRY_AFTER_SECONDS")
    )
    database_connect_timeout_seconds: float = Field(
        20, gt=0, le=120, validation_alias=env_var("TICKETING_DB_CONNECT_TIMEOUT_SECONDS")
    )
    migrate_on_startup: bool = Field(True, validation_alias=env_var("TICKETING_MIGRATE_ON_STARTUP"))
    # Once started, the process's objects (plugins, routes, models) are moved out of the
    # garbage collector's reach (gc.freeze), so its full passes stop pausing requests.
    freeze_startup_objects: bool = Field(
        True, validation_alias=env_var("TICKETING_FREEZE_STARTUP_OBJECTS")
    )

    redis_url: str | None = Field(None, validation_alias=env_var("REDIS_URL"))
    # The plugin document store on MongoDB instead of PostgreSQL (kernel.documents).
    mongo_url: str | None = Field(None, validation_alias=env_var("MONGO_URL"))

    storage_endpoint: str | None = Field(
        None, validation_alias=env_var("TICKETING_STORAGE_ENDPOINT")
    )
    storage_access_key: str | None = Field(
        None, validation_alias=env_var("TICKETING_STORAGE_ACCESS_KEY")
    )
    storage_secret_key: str | None = Field(
        None, validation_alias=env_var("TICKETING_STORAGE_SECRET_KEY")
    )
    storage_bucket: str = Field("ticketing", validation_alias=env_var("TICKETING_STORAGE_BUCKET"))
    storage_secure: bool = Field(True, validation_alias=env_var("TICKETING_STORAGE_SECURE"))
    storage_region: str | None = Field(None, validation_alias=env_var("TICKETING_STORAGE_REGION"))

    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=env_var("TICKETING_CORS_ORIGINS")
    )
    rate_limit_requests: int = Field(
        600, ge=0, validation_alias=env_var("TICKETING_RATE_LIMIT_REQUESTS")
    )
    rate_limit_window_seconds: int = Field(
        60, ge=1, validation_alias=env_var("TICKETING_RATE_LIMIT_WINDOW_SECONDS")
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, validation_alias=env_var("TICKETING_MAX_BODY_BYTES")
    )
    max_header_bytes: int = Field(
        32 * 1024, ge=4096, le=1024 * 1024, validation_alias=env_var("TICKETING_MAX_HEADER_BYTES")
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        validation_alias=env_var("TICKETING_TRUSTED_PROXIES"),
    )

    disabled_plugins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=env_var("TICKETING_DISABLED_PLUGINS")
    )
    encryption_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=env_var("TICKETING_ENCRYPTION_KEYS")
    )
    outbox_poll_seconds: float = Field(
        2.0, gt=0, validation_alias=env_var("TICKETING_OUTBOX_POLL_SECONDS")
    )
    plugin_poll_seconds: float = Field(
        0.5, gt=0, le=60, validation_alias=env_var("TICKETING_PLUGIN_POLL_SECONDS")
    )
    # How long a stopping `ticketing serve` lets requests in flight finish before it
    # cancels them; below the 30 s a container gets between SIGTERM and SIGKILL.
    shutdown_timeout_seconds: int = Field(
        25, ge=1, le=3600, validation_alias=env_var("TICKETING_SHUTDOWN_TIMEOUT_SECONDS")
    )

    # Background jobs (kernel.jobs): run in this process ("inline", the default: one
    # process needs nothing else), or only by `ticketing worker` processes ("worker",
    # over REDIS_URL; API processes then only enqueue).
    job_runner: Literal["inline", "worker"] = Field(
        "inline", validation_alias=env_var("TICKETING_JOB_RUNNER")
    )
    job_concurrency: int = Field(
        10, ge=1, le=200, validation_alias=env_var("TICKETING_JOB_CONCURRENCY")
    )
    # A job whose worker stopped (killed, lost) is taken over by another worker after
    # this long; it must exceed the longest run of any job.
    job_claim_after_seconds: float = Field(
        300, ge=1, le=86_400, validation_alias=env_var("TICKETING_JOB_CLAIM_AFTER_SECONDS")
    )
    # Where `ticketing worker` serves its Prometheus metrics (job runs, outbox, webhooks);
    # unset: it serves none.
    worker_metrics_port: int | None = Field(
        None, ge=1, le=65_535, validation_alias=env_var("TICKETING_WORKER_METRICS_PORT")
    )
    # Touched by `ticketing worker` while it runs; `ticketing worker --check` reads it.
    worker_heartbeat_file: Path = Field(
        Path(tempfile.gettempdir()) / "ticketing-worker.alive",
        validation_alias=env_var("TICKETING_WORKER_HEARTBEAT_FILE"),
    )

    # The platform's address as its users and remote plugins reach it (behind a reverse
    # proxy, the proxy's); unset: the address each request came in on.
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        validation_alias=env_var("TICKETING_PUBLIC_URL"),
    )

    # Remote plugins (kernel.remote): the cap on any hook's deadline, and the breaker.
    remote_deadline_cap_ms: int = Field(
        2000, ge=10, le=10_000, validation_alias=env_var("TICKETING_REMOTE_DEADLINE_CAP_MS")
    )
    remote_breaker_threshold: float = Field(
        0.5, gt=0, le=1, validation_alias=env_var("TICKETING_REMOTE_BREAKER_THRESHOLD")
    )
    remote_breaker_min_calls: int = Field(
        10, ge=1, le=10_000, validation_alias=env_var("TICKETING_REMOTE_BREAKER_MIN_CALLS")
    )
    remote_breaker_window_seconds: int = Field(
        60, ge=1, le=3600, validation_alias=env_var("TICKETING_REMOTE_BREAKER_WINDOW_SECONDS")
    )
    remote_breaker_cooldown_seconds: int = Field(
        30, ge=1, le=3600, validation_alias=env_var("TICKETING_REMOTE_BREAKER_COOLDOWN_SECONDS")
    )

    # Honoured only when TICKETING_ENV is development (kernel.bundles.sync).
    allow_unsigned_plugins: bool = Field(
        False, validation_alias=env_var("TICKETING_ALLOW_UNSIGNED_PLUGINS")
    )

    log_level: str = Field("INFO", validation_alias=env_var("TICKETING_LOG_LEVEL"))
    log_json: bool = Field(True, validation_alias=env_var("TICKETING_LOG_JSON"))

    @field_validator(
        "cors_origins", "disabled_plugins", "trusted_proxies", "encryption_keys", mode="before"
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("public_url", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # raises a clear error at start-up
        return value

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _workers_need_redis(self) -> Self:
        if self.job_runner == "worker" and not self.redis_url:
            raise ValueError("TICKETING_JOB_RUNNER=worker needs REDIS_URL (the job queue)")
        return self

    @model_validator(mode="after")
    def _admission_within_the_pool(self) -> Self:
        """Admitted buyers must never wait for a database connection: refuse at start-up
        a buying limit larger than the pool serves."""
        served = self.database_pool_size + self.database_max_overflow
        if self.admission_per_process is not None and self.admission_per_process > served:
            raise ValueError(
                f"TICKETING_ADMISSION_PER_PROCESS ({self.admission_per_process}) is more than "
                f"the database pool serves (TICKETING_DB_POOL_SIZE + TICKETING_DB_MAX_OVERFLOW "
                f"= {served}): admitted buyers would wait for a connection"
            )
        return self

    @property
    def effective_admission_per_process(self) -> int:
        """``TICKETING_ADMISSION_PER_PROCESS``, else the pool size (``0``: off)."""
        if self.admission_per_process is None:
            return self.database_pool_size
        return self.admission_per_process

    @cached_property
    def storage_dir(self) -> Path:
        """Where objects live when no object storage endpoint is configured."""
        return self.data_dir / "storage"
