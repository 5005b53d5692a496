"""``ticketing plugins ...`` and ``ticketing admins ...`` as an operator runs them, on the
test database, their effect seen through the HTTP API. The command line runs in this
process (a thread of its own): ``tests/integration/test_cli.py`` already starts it as a
real process, which costs seconds per command."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from typer.testing import CliRunner

from kernel.cli import build_cli
from kernel.plugin_manager import create_plugin_manager
from tests.conftest import make_settings
from tests.integration.conftest import Person, signed_in_user


@pytest.fixture
def run_cli(tmp_path, database_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    cli = build_cli(make_settings(tmp_path, database_url=database_url), create_plugin_manager())
    runner = CliRunner()

    async def run(*args: str):
        return await asyncio.to_thread(runner.invoke, cli, list(args))

    return run


async def test_an_operator_turns_plugins_off_blocks_them_and_grants_administrators(
    api, run_cli
) -> None:
    person = Person.new("operator")
    admin = await signed_in_user(api, person)
    slug = f"org-{uuid.uuid4().hex[:12]}"
    created = await api.post(
        "/api/v1/organizations", json={"slug": slug, "name": "CLI Org"}, headers=admin
    )
    organization_id = created.json()["id"]

    disabled = await run_cli("plugins", "disable", "--org", slug, "promotions")
    assert disabled.exit_code == 0, disabled.output
    assert "promotions is off" in disabled.output
    listing = await api.get(f"/api/v1/organizations/{organization_id}/plugins", headers=admin)
    promotions = next(item for item in listing.json()["items"] if item["slug"] == "promotions")
    assert promotions["enabled"] is False

    refused = await run_cli("plugins", "disable", "--org", slug, "identity")
    assert refused.exit_code == 1
    assert "required" in refused.output

    blocked = await run_cli("plugins", "block", "promotions", "--reason", "under review")
    assert blocked.exit_code == 0, blocked.output
    shown = {
        row["slug"]: row for row in json.loads((await run_cli("plugins", "list", "--json")).output)
    }
    assert shown["promotions"]["blocked"] is True
    assert shown["promotions"]["blocked_reason"] == "under review"
    assert (await run_cli("plugins", "unblock", "promotions")).exit_code == 0

    block = "/api/v1/platform/plugins/promotions/block"
    assert (await api.put(block, json={"reason": "x"}, headers=admin)).status_code == 403
    granted = await run_cli("admins", "grant", person.email)
    assert granted.exit_code == 0, granted.output
    assert (await api.put(block, json={"reason": "x"}, headers=admin)).status_code == 200
    assert (await api.delete(block, headers=admin)).status_code == 204
    assert (await run_cli("admins", "revoke", person.email)).exit_code == 0
    assert (await api.put(block, json={"reason": "x"}, headers=admin)).status_code == 403
