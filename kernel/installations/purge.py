"""Deleting one plugin's data for one organization, asked of that plugin only."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from kernel.awaitables import await_me_maybe
from kernel.plugin_context import PluginContext

if TYPE_CHECKING:
    from kernel.context import Kernel

HOOK = "ticketing_plugin_purge"


async def purge_plugin_data(
    kernel: Kernel, session: AsyncSession, *, organization_id: uuid.UUID, slug: str
) -> bool:
    """Call ``ticketing_plugin_purge`` on plugin ``slug`` alone (whether or not the
    organization runs it now: it is being removed). ``False`` when it does not answer
    the hook (it keeps no data of its own). Its errors propagate: the uninstall rolls
    back rather than half-purge."""
    plugin = kernel.plugins.get_plugin(slug)
    if plugin is None:
        return False
    implementations = [
        impl for impl in getattr(kernel.plugins.hook, HOOK).get_hookimpls() if impl.plugin is plugin
    ]
    arguments = {
        "organization_id": organization_id,
        "session": session,
        "ctx": PluginContext(kernel=kernel, organization_id=organization_id, plugin=slug),
    }
    for impl in implementations:
        await await_me_maybe(impl.function(**{name: arguments[name] for name in impl.argnames}))
    return bool(implementations)
