"""``ticketing-sdk new``: a plugin project that builds, signs and passes its tests as made.

The project is the smallest real plugin: a pricing adjuster that takes a configurable
percentage off, its metadata and settings schema, tests that need no database, and the
``pyproject.toml`` that ``ticketing-sdk build`` reads. Authors replace the example; the
loop around it (test, build, sign, verify) already works.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from kernel.hookspecs import HOOK_CONTRACT_VERSION
from kernel.plugin_metadata import SLUG_PATTERN
from sdk.bundles.building import default_compatibility


class ScaffoldRefused(ValueError):
    """The name or the target directory cannot take a new project; the message says why."""


PYPROJECT = Template("""\
[project]
name = "$slug"
version = "0.1.0"
description = "$title: a plugin for the ticketing platform."
# No dependencies yet: the SDK ships inside the platform's `ticketing` distribution, so
# the plugin needs the platform's `sdk` package importable wherever it runs or is tested.
dependencies = []

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
"""The plugin as the kernel will see it; plain pytest, no database."""

from datetime import UTC, datetime
from uuid import uuid4

import $package as plugin
from sdk import PriceStage, PricingContext
from sdk.testing import check_plugin, plugin_context, validate_metadata


def pricing_context() -> PricingContext:
    return PricingContext(
        organization_id=uuid4(),
        event_id=uuid4(),
        ticket_type_id=uuid4(),
        quantity=2,
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
''')

README = Template("""\
# $title

A plugin for the ticketing platform: it takes `percent_off` % (default 10) off every
ticket of the organizations that turn it on. It is the example `ticketing-sdk new` made;
replace it with your own hooks (documented in the platform's `kernel.hookspecs`).

The plugin imports only `sdk`, which ships with the platform: work inside an environment
where it is importable (e.g. the platform's virtualenv).

## The loop

```sh
# 1. edit $package/__init__.py (hooks, METADATA, settings schema) and tests/
# 2. test it, no database needed
pytest
# 3. build the bundle: the wheel and its manifest
ticketing-sdk build . --out dist/$slug-0.1.0/
# 4. once: a publisher key pair (keep ed25519.key secret)
ticketing-sdk keygen --out keys/
# 5. sign the bundle, then check it as an installer will
ticketing-sdk sign dist/$slug-0.1.0/ --key keys/ed25519.key
ticketing-sdk verify dist/$slug-0.1.0/ --public-key keys/ed25519.pub
```

The hook contract versions the plugin works with and the permissions it asks for are
in `[tool.ticketing]` of `pyproject.toml`; bump `version` in both `pyproject.toml` and
`METADATA` for each release.
""")


def package_name(slug: str) -> str:
    return slug.replace("-", "_")


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
