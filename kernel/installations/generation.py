"""The plugin generation: one number every installation, block or admin change moves.

A change bumps it in its own transaction (:func:`bump`), so the number and the change
commit together; after the commit :func:`announce` drops this process's cache at once
and nudges every other process through the pub/sub. The other processes also poll the
number (:mod:`kernel.installations.watcher`), so a nudge that is lost only delays them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.installations.models import PluginGeneration
from kernel.pubsub import PubSubError

if TYPE_CHECKING:
    from kernel.context import Kernel

logger = logging.getLogger(__name__)

CHANNEL = "kernel:plugin-generation"


async def bump(session: AsyncSession) -> int:
    """Move the generation inside ``session``'s transaction; returns the new number.

    The row lock also orders concurrent changes: the second waits for the first commit.
    """
    value = await session.scalar(
        update(PluginGeneration)
        .where(PluginGeneration.id == 1)
        .values(value=PluginGeneration.value + 1)
        .returning(PluginGeneration.value)
    )
    if value is None:
        raise RuntimeError("plugin_generation has no row: run the kernel's migrations")
    return int(value)


async def current(session: AsyncSession) -> int:
    value = await session.scalar(select(PluginGeneration.value).where(PluginGeneration.id == 1))
    return int(value or 0)


async def announce(kernel: Kernel, generation: int) -> None:
    """After the commit: this process forgets what it cached, the others are nudged."""
    states = kernel.hooks.states
    moved_to = getattr(states, "moved_to", None)
    if moved_to is not None:
        moved_to(generation)
    try:
        await kernel.pubsub.publish(CHANNEL, str(generation))
    except PubSubError:
        logger.warning("could not nudge the other processes; they see the change by polling")
