"""``ticketing secrets generate``: fresh values in the forms the settings accept, written
readable by their owner only, and never over a file whose keys may already encrypt data."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from builtin_plugins.identity.settings import IdentitySettings
from builtin_plugins.orders.settings import OrderSettings
from kernel.cli import build_cli
from kernel.crypto import Encryptor, parse_keys
from kernel.plugin_manager import KernelPluginManager
from kernel.settings import Settings
from tests.support.compose_files import parse_env_file, production_secret_names

SERVICE_PASSWORDS = [
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "MONGO_PASSWORD",
    "MINIO_ROOT_PASSWORD",
    "TICKETING_STORAGE_SECRET_KEY",
    "GRAFANA_ADMIN_PASSWORD",
]


@pytest.fixture
def run(tmp_path: Path, plugins: KernelPluginManager):
    cli = build_cli(Settings(data_dir=tmp_path / "data"), plugins)

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["secrets", "generate", *args])

    return invoke


def test_printed_values_are_what_production_settings_accept(run) -> None:
    result = run()
    assert result.exit_code == 0, result.output
    values = parse_env_file(result.stdout)
    assert production_secret_names() <= set(values)
    settings = Settings(
        environment="production", encryption_keys=values["TICKETING_ENCRYPTION_KEYS"]
    )
    encryptor = Encryptor(parse_keys(settings.encryption_keys))
    assert encryptor.decrypt(encryptor.encrypt(b"x", aad="a"), aad="a") == b"x"
    assert OrderSettings(link_secret=values["TICKETING_ORDER_LINK_SECRET"]).link_secret
    identity = IdentitySettings(
        nextauth_secret=values["NEXTAUTH_SECRET"], service_key=values["TICKETING_SERVICE_KEY"]
    )
    assert len(identity.nextauth_secret) >= 32 and len(identity.service_key) >= 32
    for name in SERVICE_PASSWORDS:
        # Inside URLs and command lines as they are; MinIO takes at most 40 characters.
        assert values[name].isalnum() and 32 <= len(values[name]) <= 40, name
    assert 16 <= len(values["REMOTE_LOYALTY_HANDSHAKE_TOKEN"]) <= 200


def test_every_run_generates_new_values(run) -> None:
    first, second = parse_env_file(run().stdout), parse_env_file(run().stdout)
    assert first.keys() == second.keys()
    assert all(first[name] != second[name] for name in first)
    assert len(set(first.values())) == len(first), "two secrets share a value"


def test_output_is_written_for_its_owner_only(run, tmp_path: Path) -> None:
    target = tmp_path / "deploy" / "secrets.env"
    result = run("--output", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == "", "the secrets go to the file, not the terminal"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert production_secret_names() <= set(parse_env_file(target.read_text()))
    assert [p.name for p in target.parent.iterdir()] == ["secrets.env"], "no partial file left"


def test_an_existing_file_is_kept_unless_forced(run, tmp_path: Path) -> None:
    target = tmp_path / "secrets.env"
    assert run("--output", str(target)).exit_code == 0
    before = target.read_text()
    refused = run("--output", str(target))
    assert refused.exit_code == 1
    assert "--force" in refused.output
    assert target.read_text() == before
    forced = run("--output", str(target), "--force")
    assert forced.exit_code == 0, forced.output
    assert parse_env_file(target.read_text()) != parse_env_file(before)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
