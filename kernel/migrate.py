"""Alembic, driven from code: the kernel's version location plus one per plugin.

Each owner's revisions form a branch labelled with its slug (``kernel``, ``identity``,
...), so ``upgrade heads`` brings every owner up to date and ``downgrade <slug>@base``
removes one plugin's tables.
"""

import hashlib
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError

import migrations
from kernel.plugin_manager import KernelPluginManager

KERNEL_VERSIONS = Path(migrations.__file__).parent / "versions"


def migration_locations(plugins: KernelPluginManager) -> list[str]:
    locations = [str(KERNEL_VERSIONS)]
    for _slug, location in plugins.collect("ticketing_migration_location"):
        if location:
            locations.append(str(Path(location).resolve()))
    return locations


def alembic_config(database_url: str, plugins: KernelPluginManager) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(migration_locations(plugins)))
    config.attributes["database_url"] = database_url
    config.attributes["plugins"] = plugins
    return config


def upgrade(database_url: str, plugins: KernelPluginManager, revision: str = "heads") -> None:
    command.upgrade(alembic_config(database_url, plugins), revision)


def downgrade(database_url: str, plugins: KernelPluginManager, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url, plugins), revision)


def heads(database_url: str, plugins: KernelPluginManager) -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config(database_url, plugins)).get_heads())


def bundle_version_table(slug: str) -> str:
    """The version table of a bundle plugin's own branch (PostgreSQL names: 63 bytes)."""
    name = "alembic_version_" + slug.replace("-", "_")
    if len(name) <= 63:
        return name
    return "alembic_version_" + hashlib.sha256(slug.encode()).hexdigest()[:32]


def upgrade_bundle(
    database_url: str, plugins: KernelPluginManager, slug: str, location: str
) -> bool:
    """Bring bundle plugin ``slug``'s branch (its ``location`` alone) to its heads.

    A bundle's revisions are recorded in a version table of their own, not in
    ``alembic_version``: the kernel's own upgrades, run before any bundle is loaded or
    after one is removed, must never meet a revision whose script they cannot see. Its
    branch therefore stands alone (no ``depends_on`` a kernel revision; the kernel's
    tables exist before any bundle loads). When the database is already past the scripts
    this version knows (a rollback to an older version), nothing is migrated and the
    answer is ``False``: the newer schema stays for the older code.
    """
    config = alembic_config(database_url, plugins)
    config.set_main_option("version_locations", str(Path(location).resolve()))
    config.attributes["version_table"] = bundle_version_table(slug)
    try:
        command.upgrade(config, "heads")
    except CommandError as exc:
        if "Can't locate revision" not in str(exc):
            raise
        return False
    return True
