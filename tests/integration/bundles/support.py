"""A tiny pricing plugin built into real bundles (v1 and v2), and helpers to sign, store
and deploy them as the marketplace does."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, text

from kernel.bundles.archive import CONTENT_TYPE, pack, sha256_bytes
from kernel.bundles.keys import key_id, public_key_text
from kernel.bundles.manifest import MANIFEST_FILE, BundleManifest
from kernel.bundles.models import PluginDeployment, PluginRevocation
from kernel.bundles.signing import sign_bundle
from kernel.context import Kernel
from kernel.installations import generation
from kernel.storage import ObjectStorage
from sdk.bundles import build

REPO = Path(__file__).resolve().parents[3]
SLUG = "flat-discount"
PACKAGE = "flat_discount"

PYPROJECT = """\
[project]
name = "flat-discount"
version = "{version}"
requires-python = ">=3.12"
dependencies = []

[project.entry-points."ticketing.plugins"]
flat-discount = "flat_discount"

[tool.ticketing]
kernel-compatibility = ">=1.0,<2"

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["flat_discount"]
"""

MODULE = '''\
"""Takes {amount} minor units off every ticket (version {version})."""

from pathlib import Path

from sdk import PluginCategory, PluginMetadata, PriceAdjustment, PriceStage, hookimpl

METADATA = PluginMetadata(
    slug="flat-discount",
    name="Flat discount",
    version="{version}",
    category=PluginCategory.MARKETING,
    description="A fixed amount off every ticket.",
)
AMOUNT = {amount}
STARTED = []


class FlatOff:
    stage = PriceStage.DISCOUNT
    code = "flat-discount"

    def adjust(self, context, unit_price):
        return PriceAdjustment(
            stage=self.stage, code=self.code, label="{version}", amount=-AMOUNT
        )


@hookimpl
def ticketing_pricing_adjusters(context, ctx):
    return [FlatOff()]


@hookimpl
def ticketing_migration_location():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def ticketing_startup(kernel):
    STARTED.append(True)
'''

MIGRATION = '''\
"""flat-discount: {table}"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = {down}
branch_labels = {labels}
depends_on = None


def upgrade():
    op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("{table}")
'''

#: Each version's migrations: v2 adds a second table on top of v1's.
MIGRATIONS = {
    "1.0.0": [("fd0001", None, "flat_discount_rule")],
    "2.0.0": [("fd0001", None, "flat_discount_rule"), ("fd0002", "fd0001", "flat_discount_tier")],
}
AMOUNTS = {"1.0.0": 100, "2.0.0": 250}


def write_project(directory: Path, version: str, broken: bool = False) -> Path:
    """The plugin's project at ``version``; ``broken`` adds a last migration that fails
    in the database."""
    package = directory / PACKAGE
    (package / "migrations").mkdir(parents=True)
    (directory / "pyproject.toml").write_text(PYPROJECT.format(version=version))
    (package / "__init__.py").write_text(MODULE.format(version=version, amount=AMOUNTS[version]))
    for revision, down, table in MIGRATIONS[version]:
        labels = "None" if down else '("flat-discount",)'
        (package / "migrations" / f"{revision}.py").write_text(
            MIGRATION.format(revision=revision, down=repr(down), labels=labels, table=table)
        )
    if broken:
        last = MIGRATIONS[version][-1][0]
        failing = MIGRATION.format(revision="fd9999", down=repr(last), labels="None", table="x")
        failing = failing.replace(
            'op.create_table("x", sa.Column("id", sa.Integer, primary_key=True))',
            'op.execute("SELECT no_such_column FROM flat_discount_rule")',
        )
        (package / "migrations" / "fd9999.py").write_text(failing)
    return directory


def build_bundle(workdir: Path, version: str, broken: bool = False) -> Path:
    """An unsigned bundle of the plugin at ``version`` (a real ``uv build``)."""
    project = write_project(workdir / f"project-{version}", version, broken)
    out = workdir / f"bundle-{version}"
    with pytest.MonkeyPatch.context() as patch:
        if not os.environ.get("UV") and not shutil.which("uv"):
            patch.setenv("UV", str(REPO / ".tools" / "bin" / "uv"))
        patch.setenv("UV_OFFLINE", "1")  # hatchling is in the cache the project built with
        patch.setenv("UV_PYTHON", sys.executable)  # build with the interpreter that runs
        build(project, out)
    return out


def archive(
    bundle: Path,
    key: Ed25519PrivateKey | None,
    scratch: Path,
    *,
    hooks: tuple[str, ...] | None = None,
    tamper: bool = False,
) -> bytes:
    """The bundle packed for storage: signed by ``key`` (unsigned when None), its
    manifest's hooks replaced first, or a file changed after signing."""
    copy = scratch / uuid.uuid4().hex
    shutil.copytree(bundle, copy)
    if hooks is not None:
        manifest = BundleManifest.from_bytes((copy / MANIFEST_FILE).read_bytes())
        data = {**{f: getattr(manifest, f) for f in manifest.__dataclass_fields__}}
        data["hooks"] = hooks
        (copy / MANIFEST_FILE).write_bytes(BundleManifest(**data).to_bytes())
    if key is not None:
        sign_bundle(copy, key)
    if tamper:
        wheel = next(copy.glob("*.whl"))
        wheel.write_bytes(wheel.read_bytes() + b"\0")
    return pack(copy)


@dataclass(frozen=True)
class Offered:
    """What the marketplace would hand the kernel: the deployment, not yet committed."""

    plugin: str
    version: str
    archive_key: str
    archive_sha256: str
    key_id: str | None
    public_key: str | None

    def row(self) -> dict:
        return {
            "plugin": self.plugin,
            "version": self.version,
            "archive_key": self.archive_key,
            "archive_sha256": self.archive_sha256,
            "key_id": self.key_id,
            "public_key": self.public_key,
        }


async def store(
    storage: ObjectStorage, data: bytes, version: str, key: Ed25519PrivateKey | None
) -> Offered:
    """Put the archive into object storage; the deployment that names it."""
    digest = sha256_bytes(data)
    archive_key = f"bundles/{SLUG}/{digest}.zip"
    await storage.put(archive_key, data, content_type=CONTENT_TYPE)
    public = key.public_key() if key is not None else None
    return Offered(
        plugin=SLUG,
        version=version,
        archive_key=archive_key,
        archive_sha256=digest,
        key_id=key_id(public) if public is not None else None,
        public_key=public_key_text(public) if public is not None else None,
    )


async def commit(kernel: Kernel, offered: Offered | None) -> int:
    """Make ``offered`` the deployment (None: remove it), bumping the generation."""
    async with kernel.database.transaction() as session:
        await session.execute(delete(PluginDeployment).where(PluginDeployment.plugin == SLUG))
        if offered is not None:
            await session.execute(insert(PluginDeployment).values(**offered.row()))
        return await generation.bump(session)


async def revoke(kernel: Kernel, **what: str) -> int:
    async with kernel.database.transaction() as session:
        await session.execute(insert(PluginRevocation).values(reason="test", **what))
        return await generation.bump(session)


async def clear(kernel: Kernel) -> None:
    async with kernel.database.transaction() as session:
        await session.execute(delete(PluginDeployment).where(PluginDeployment.plugin == SLUG))
        await session.execute(delete(PluginRevocation))
        await generation.bump(session)


async def table_exists(kernel: Kernel, table: str) -> bool:
    async with kernel.database.transaction() as session:
        return bool(await session.scalar(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": table}))
