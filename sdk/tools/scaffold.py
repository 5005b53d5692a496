"""``ticketing-sdk new``: a plugin project that builds, signs and passes its tests as made.

The project is the smallest real plugin: a pricing adjuster that takes a configurable
percentage off, its metadata and settings schema, tests (quick ones without a database,
and ones that run it in the real kernel on PostgreSQL through the ``ticketing_*``
fixtures of :mod:`sdk.pytest_plugin`), and the ``pyproject.toml`` that
``ticketing-sdk build`` reads. Authors replace the example; the loop around it (test,
build, sign, verify, publish) already works.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path
from string import Template

from kernel.hookspecs import HOOK_CONTRACT_VERSION
from kernel.plugin_metadata import SLUG_PATTERN
from sdk.bundles.building import default_compatibility

SDK_DISTRIBUTION = "ticketing-sdk"


class ScaffoldRefused(ValueError):
    """The name or the target directory cannot take a new project; the message says why."""


PYPROJECT = Template("""\
[project]
name = "$slug"
version = "0.1.0"
description = "$title: a plugin for the ticketing platform."
# The platform provides `ticketing-sdk` where the plugin runs; its `testing` extra adds
# the pytest plugin's needs (pytest, pytest-asyncio) for the tests.
dependencies = ["ticketing-sdk>=$sdk_version"]

[dependency-groups]
dev = ["ticketing-sdk[testing]>=$sdk_version"]

[project.entry-points."ticketing.plugins"]
$slug = "$package"

[tool.ticketing]
# The kernel hook contract versions this plugin works with (PEP 440 specifier).
kernel-compatibility = "$compatibility"
# Permissions the plugin asks for, e.g. ["orders.read"].
permissions = []

[tool.pytest.ini_options]
pythonpath = ["."]
testpaths = ["tests"]
asyncio_mode = "auto"
# The kernel the ticketing_* fixtures start lives on the session's event loop.
asyncio_default_fixture_loop_scope = "session"
asyncio_default_test_loop_scope = "session"

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["$package"]
""")

MODULE = Template('''\
"""$title: takes a percentage off every ticket, set per organization in ``percent_off``.

An example to replace: one hook, ``ticketing_pricing_adjusters``, answering one
adjuster. Everything the plugin uses comes from ``sdk``.
"""

from sdk import (
    Availability,
    PluginCategory,
    PluginMetadata,
    PriceAdjustment,
    PriceStage,
    PricingContext,
    hookimpl,
)

SLUG = "$slug"

SETTINGS_SCHEMA = {
    "$$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "$title",
    "type": "object",
    "properties": {
        "percent_off": {
            "title": "Percent off",
            "type": "integer",
            "minimum": 0,
            "maximum": 100,
            "default": 10,
        }
    },
    "additionalProperties": False,
}

METADATA = PluginMetadata(
    slug=SLUG,
    name="$title",
    version="0.1.0",
    category=PluginCategory.MARKETING,
    settings_schema=SETTINGS_SCHEMA,
    description="A percentage off every ticket.",
    # Off until an organization installs it (from the marketplace) and turns it on.
    availability=Availability.OPT_IN,
    depends_on=(),
)


class PercentOff:
    """Takes ``percent`` % off the unit price, rounded down to whole minor units."""

    stage = PriceStage.DISCOUNT
    code = SLUG

    def __init__(self, percent: int) -> None:
        self.percent = percent

    def adjust(self, context: PricingContext, unit_price: int) -> PriceAdjustment | None:
        off = unit_price * self.percent // 100
        if off <= 0:
            return None
        return PriceAdjustment(
            stage=self.stage, code=self.code, label=f"{self.percent}% off", amount=-off
        )


@hookimpl
def ticketing_pricing_adjusters(context, ctx):
    return [PercentOff(int(ctx.settings.get("percent_off", 10)))]
''')

TESTS = Template('''\
"""The plugin as the kernel will see it.

The first tests need no database. The others run the plugin inside the real kernel on
PostgreSQL, through the ``ticketing_*`` fixtures of ticketing-sdk's pytest plugin: a
database of its own from ``TICKETING_TEST_DATABASE_URL`` (else ``DATABASE_URL``, else an
embedded PostgreSQL), a new organization, the plugin turned on for it with settings, and
its hook called as the kernel calls it.
"""

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

import $package as plugin
from sdk import PriceStage, PricingContext, UnprocessableContent
from sdk.testing import check_plugin, plugin_context, validate_metadata


def pricing_context(organization_id: UUID | None = None, quantity: int = 2) -> PricingContext:
    return PricingContext(
        organization_id=organization_id or uuid4(),
        event_id=uuid4(),
        ticket_type_id=uuid4(),
        quantity=quantity,
        currency="EUR",
        at=datetime(2030, 1, 1, tzinfo=UTC),
    )


def test_metadata_is_valid():
    metadata = validate_metadata(plugin.METADATA, expected_slug="$slug")
    assert metadata.slug == "$slug"


def test_the_kernel_loads_the_plugin():
    assert check_plugin(plugin, slug="$slug") == []


def test_the_configured_percentage_comes_off():
    ctx = plugin_context("$slug", {"percent_off": 25})
    [adjuster] = plugin.ticketing_pricing_adjusters(context=pricing_context(), ctx=ctx)
    adjustment = adjuster.adjust(pricing_context(), 2000)
    assert adjustment.stage is PriceStage.DISCOUNT
    assert adjustment.amount == -500


def test_ten_percent_without_settings():
    ctx = plugin_context("$slug")
    [adjuster] = plugin.ticketing_pricing_adjusters(context=pricing_context(), ctx=ctx)
    assert adjuster.adjust(pricing_context(), 2000).amount == -200


async def test_an_organization_that_turned_it_on_pays_less(
    ticketing_organization, ticketing_enable_plugin, ticketing_quote_line
):
    await ticketing_enable_plugin(ticketing_organization, "$slug", {"percent_off": 25})
    quote = await ticketing_quote_line(pricing_context(ticketing_organization.id), list_price=2000)
    assert quote.unit_price == 1500
    assert [a.code for a in quote.adjustments] == ["$slug"]


async def test_an_organization_that_did_not_pays_the_list_price(
    ticketing_organization, ticketing_quote_line
):
    quote = await ticketing_quote_line(pricing_context(ticketing_organization.id), list_price=2000)
    assert (quote.unit_price, quote.adjustments) == (2000, ())


async def test_settings_outside_the_schema_are_refused(
    ticketing_organization, ticketing_enable_plugin, ticketing_quote_line
):
    with pytest.raises(UnprocessableContent) as refused:
        await ticketing_enable_plugin(ticketing_organization, "$slug", {"percent_off": 150})
    assert refused.value.extensions["field"] == "/settings/percent_off"
    quote = await ticketing_quote_line(pricing_context(ticketing_organization.id), list_price=2000)
    assert quote.unit_price == 2000
''')

README = Template("""\
# $title

A plugin for the ticketing platform: it takes `percent_off` % (default 10) off every
ticket of the organizations that turn it on. It is the example `ticketing-sdk new` made;
replace it with your own hooks (documented in the platform's `kernel.hookspecs` and its
SDK guide, `sdk/README.md`).

The plugin imports only `sdk`, from the `ticketing-sdk` distribution.

## The loop

```sh
# 0. once: an environment with the SDK and its test extra
uv venv && uv pip install 'ticketing-sdk[testing]'
# 1. edit $package/__init__.py (hooks, METADATA, settings schema) and tests/
# 2. test it: the quick tests need nothing, the others run the plugin in the real kernel
#    on PostgreSQL (TICKETING_TEST_DATABASE_URL or DATABASE_URL; else an embedded one)
pytest
# 3. build the bundle: the wheel and its manifest
ticketing-sdk build . --out dist/$slug-0.1.0/
# 4. once: a publisher key pair (keep ed25519.key secret)
ticketing-sdk keygen --out keys/
# 5. sign the bundle, then check it as an installer will
ticketing-sdk sign dist/$slug-0.1.0/ --key keys/ed25519.key
ticketing-sdk verify dist/$slug-0.1.0/ --public-key keys/ed25519.pub
# 6. publish it to a marketplace (token from TICKETING_PUBLISHER_TOKEN or --token)
ticketing-sdk publish dist/$slug-0.1.0/ --url https://tickets.example.com \\
    --public-key keys/ed25519.pub
```

The hook contract versions the plugin works with and the permissions it asks for are
in `[tool.ticketing]` of `pyproject.toml`; bump `version` in both `pyproject.toml` and
`METADATA` for each release.
""")


def package_name(slug: str) -> str:
    return slug.replace("-", "_")


def sdk_version() -> str:
    """The running ticketing-sdk's version: the least the new project asks for."""
    try:
        return metadata.version(SDK_DISTRIBUTION)
    except metadata.PackageNotFoundError:  # a source tree without the distribution
        return "0.1.0"


def scaffold(name: str, parent: Path) -> Path:
    """Write the project for plugin ``name`` into ``parent/name`` and return that path."""
    if not re.fullmatch(SLUG_PATTERN, name):
        raise ScaffoldRefused(
            f"{name!r} is not a plugin slug: lowercase letters, digits, '-' and '_', "
            f"starting with a letter, 2 to 63 characters ({SLUG_PATTERN})"
        )
    project = Path(parent) / name
    if project.exists() and (not project.is_dir() or any(project.iterdir())):
        raise ScaffoldRefused(f"{project} already exists and is not empty")
    values = {
        "slug": name,
        "package": package_name(name),
        "title": name.replace("-", " ").replace("_", " ").capitalize(),
        "compatibility": default_compatibility(HOOK_CONTRACT_VERSION),
        "sdk_version": sdk_version(),
    }
    files = {
        "pyproject.toml": PYPROJECT,
        f"{values['package']}/__init__.py": MODULE,
        "tests/test_plugin.py": TESTS,
        "README.md": README,
    }
    for relative, template in files.items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.substitute(values), encoding="utf-8")
    return project
