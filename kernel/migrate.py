"""Alembic, driven from code: the kernel's version location plus one per plugin.

Each owner's revisions form a branch labelled with its slug (``kernel``, ``identity``,
...), so ``upgrade heads`` brings every owner up to date and ``downgrade <slug>@base``
removes one plugin's tables.
"""

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

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
