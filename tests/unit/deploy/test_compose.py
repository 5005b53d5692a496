"""compose.yml read as an operator's Docker would run it (no Docker engine here): every
service observable and pinned, nothing mounted that hands out the host, every secret a
production process needs given to it from the generated env file, none written down."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from builtin_plugins.identity.settings import IdentitySettings
from builtin_plugins.orders.settings import OrderSettings
from kernel.crypto import parse_keys
from kernel.secrets_cli import PLATFORM_SECRETS, SERVICE_SECRETS, env_file_text
from kernel.settings import Settings
from tests.support.compose_files import (
    DEPLOY,
    ROOT,
    MissingVariable,
    interpolated,
    parse_env_file,
    production_secret_names,
    raw_compose,
    references,
    service_environment,
)

COMPOSE = raw_compose()
SERVICES = COMPOSE["services"]
# Run once and exit; everything else runs for good.
ONE_SHOT = {"migrate", "minio-setup"}
PLATFORM_PROCESSES = ("migrate", "api", "worker")
PINNED_TAG = re.compile(r"^[^:@\s]+(:[A-Za-z0-9_.-]*\d[A-Za-z0-9_.-]*|@sha256:[0-9a-f]{64})$")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ENCRYPTION_KEYS|SERVICE_KEY|REDISCLI_AUTH")


def _dockerfile_of(service: dict) -> Path | None:
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        return ROOT / build / "Dockerfile"
    return ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")


def test_the_long_running_services_are_the_platform_and_its_backends() -> None:
    assert {
        "traefik",
        "api",
        "worker",
        "auth",
        "remote-loyalty",
        "postgres",
        "redis",
        "mongo",
        "minio",
    } <= set(SERVICES)
    assert ONE_SHOT <= set(SERVICES)


@pytest.mark.parametrize("name", sorted(set(SERVICES) - ONE_SHOT))
def test_every_long_running_service_is_health_checked_and_restarted(name: str) -> None:
    service = SERVICES[name]
    healthcheck = service.get("healthcheck")
    dockerfile = _dockerfile_of(service)
    if healthcheck is None:
        assert dockerfile is not None, f"{name} has no healthcheck"
        assert re.search(r"^HEALTHCHECK\s+.*CMD", dockerfile.read_text(), re.M | re.S), name
    else:
        assert not healthcheck.get("disable") and healthcheck["test"], name
    assert service.get("restart") == "unless-stopped", name


@pytest.mark.parametrize("name", sorted(ONE_SHOT))
def test_one_shot_jobs_are_not_restarted(name: str) -> None:
    assert SERVICES[name].get("restart") == "no"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_image_is_pinned_or_built_here(name: str) -> None:
    service = SERVICES[name]
    image = service.get("image")
    assert image or service.get("build"), f"{name} has neither an image nor a build"
    if image:
        assert PINNED_TAG.match(image), f"{name}: {image} is not a pinned tag"
        assert not image.endswith(":latest"), name
    dockerfile = _dockerfile_of(service)
    if dockerfile is not None:
        assert dockerfile.is_file(), f"{name} builds from a missing {dockerfile}"


def test_nothing_mounts_the_docker_socket_or_runs_privileged() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume if isinstance(volume, str) else volume.get("source", "")
            assert "docker.sock" not in source, name
        assert not service.get("privileged"), name
        assert service.get("network_mode") != "host", name


def test_only_traefik_is_published_beyond_the_host() -> None:
    published = {
        name: service["ports"] for name, service in SERVICES.items() if service.get("ports")
    }
    assert sorted(published["traefik"]) == ["443:443", "80:80"]
    for name, ports in published.items():
        if name != "traefik":
            assert all(str(port).startswith("127.0.0.1:") for port in ports), name


def test_the_api_runs_three_replicas_and_both_api_and_worker_stop_gracefully() -> None:
    assert SERVICES["api"]["deploy"]["replicas"] == 3
    for name in ("api", "worker"):
        assert SERVICES[name].get("stop_grace_period"), name
    assert SERVICES["worker"]["command"] == ["ticketing", "worker"]
    assert SERVICES["migrate"]["command"] == ["ticketing", "migrate"]


def test_start_up_waits_for_health_and_for_the_one_shot_jobs() -> None:
    conditions = {
        (name, other): condition["condition"]
        for name, service in SERVICES.items()
        for other, condition in (service.get("depends_on") or {}).items()
    }
    assert set(conditions.values()) <= {"service_healthy", "service_completed_successfully"}
    for waiter, job in [("api", "migrate"), ("worker", "migrate"), ("api", "minio-setup")]:
        assert conditions[(waiter, job)] == "service_completed_successfully"
    assert conditions[("migrate", "postgres")] == "service_healthy"
    for name, other in conditions:
        assert other in SERVICES, f"{name} waits for an unknown service {other}"
        if other not in ONE_SHOT:
            assert conditions[(name, other)] == "service_healthy", (name, other)


def test_every_secret_comes_from_the_env_file_and_none_is_written_down() -> None:
    generated = {secret.name for secret in (*PLATFORM_SECRETS, *SERVICE_SECRETS)}
    for name in SERVICES:
        for variable, value in service_environment(COMPOSE, name).items():
            if SECRET_NAME.search(variable):
                # Required (:?) or empty when unset (:-), never a default written here.
                assert re.fullmatch(r"\$\{[A-Z_]+(:\?[^}]*|:-)\}", value), (
                    f"{name}: {variable} is not read from the env file"
                )
            # A password inside a URL is a reference too.
            for password in re.findall(r"://[^:/@\s]*:([^@\s]+)@", value):
                assert password.startswith("${") and references(password) <= generated, (
                    f"{name}: {variable} writes a password into compose.yml"
                )
    required = set(re.findall(r"\$\{([A-Z_]+):\?", json.dumps(COMPOSE)))
    assert required and required <= generated, "compose requires a secret nobody generates"


def test_compose_refuses_to_start_without_the_env_file() -> None:
    with pytest.raises(MissingVariable, match="ticketing secrets generate"):
        interpolated(COMPOSE, {})


def test_every_secret_production_requires_reaches_every_platform_process() -> None:
    required = production_secret_names()
    assert {"TICKETING_ENCRYPTION_KEYS", "NEXTAUTH_SECRET", "TICKETING_SERVICE_KEY"} <= required
    generated = parse_env_file(env_file_text())
    assert required <= set(generated), "ticketing secrets generate misses a secret"
    compose = interpolated(COMPOSE, generated)
    for process in PLATFORM_PROCESSES:
        environment = service_environment(compose, process)
        assert environment["TICKETING_ENV"] == "production"
        for name in required:
            assert environment.get(name) == generated[name], f"{process} lacks {name}"


def test_the_nextauth_front_end_shares_the_api_s_secrets() -> None:
    generated = parse_env_file(env_file_text())
    compose = interpolated(COMPOSE, generated)
    auth, api = service_environment(compose, "auth"), service_environment(compose, "api")
    assert auth["NEXTAUTH_SECRET"] == api["NEXTAUTH_SECRET"]
    assert auth["TICKETING_SERVICE_KEY"] == api["TICKETING_SERVICE_KEY"]
    assert auth["NEXTAUTH_URL"] == api["TICKETING_PUBLIC_URL"]


def test_the_env_files_and_certificates_are_ignored_by_git_and_docker() -> None:
    for path in ["deploy/secrets.env", "deploy/ticketing.env", "deploy/traefik/certs/key.pem"]:
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert ignored.returncode == 0, f"{path} is not ignored by git"
    dockerignore = (ROOT / ".dockerignore").read_text().split()
    for pattern in [".git", ".venv", "tests", ".env", "**/node_modules", ".tools", "**/*.env"]:
        assert pattern in dockerignore, pattern


def test_no_deployment_file_holds_a_secret_value() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "deploy", "compose.yml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "compose.yml" in tracked
    assignment = re.compile(
        r"(PASSWORD|SECRET|TOKEN|_KEYS?)\b\s*[:=]\s*[\"']?(?!\$\{)([A-Za-z0-9_\-+/=]{16,})"
    )
    for path in tracked:
        assert not path.endswith((".env", ".pem", ".key")), f"{path} must not be in git"
        if path.endswith("package-lock.json"):
            continue  # integrity hashes of npm packages
        text = (ROOT / path).read_text(encoding="utf-8")
        assert not assignment.search(text), f"{path} holds what looks like a secret"


def test_the_example_settings_file_names_only_settings_the_platform_reads() -> None:
    example = parse_env_file(
        "\n".join(
            line.lstrip("# ")
            for line in (DEPLOY / "ticketing.env.example").read_text().splitlines()
            if "=" in line
        )
    )
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in example:
        assert f"`{name}`" in readme, f"{name} is not a documented setting"


@pytest.mark.parametrize("process", PLATFORM_PROCESSES)
def test_a_platform_process_s_environment_passes_the_production_settings(
    process: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    compose = interpolated(COMPOSE, parse_env_file(env_file_text()))
    environment = service_environment(compose, process)
    monkeypatch.chdir(tmp_path)  # no .env of a developer's checkout is read
    for name in list(os.environ):
        if name.startswith(("TICKETING_", "NEXTAUTH_", "STRIPE_")) or name.endswith("_URL"):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.environment == "production"
    assert settings.redis_url and settings.database_url and settings.storage_endpoint
    postgres = service_environment(compose, "postgres")
    assert make_url(settings.database_url).password == postgres["POSTGRES_PASSWORD"]
    assert len(parse_keys(settings.encryption_keys)) == 1
    assert IdentitySettings().nextauth_secret and IdentitySettings().service_key
    assert OrderSettings().link_secret
