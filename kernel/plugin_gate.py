"""A plugin's routes under an organization exist only where the organization has it on.

Every route a plugin contributes whose path names ``{organization_id}`` gets a check
before anything else of the route runs: the organization's plugin states
(:meth:`kernel.plugin_states.PluginStates.of`, cached by whoever implements it) say
whether the plugin is on. If not, its members get a 404 problem ``plugin-not-enabled``
naming the plugin; anyone else gets what the organization's access rules answer a
stranger (401 without credentials, 404 ``not-found`` for a non-member), so the refusal
tells an outsider nothing about the organization's choices, or that it exists.
Required plugins are never off, so their routes get no check at all.
"""

from __future__ import annotations

import copy
from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.requests import HTTPConnection

from kernel.auth.rules import organization_member
from kernel.problems import NotFound

ORGANIZATION_PARAMETER = "{organization_id}"


class PluginNotEnabled(NotFound):
    code, title = "plugin-not-enabled", "Plugin not enabled"


def plugin_enabled(slug: str):
    """The dependency that answers 404 when ``slug`` is off for the path's organization."""

    async def plugin_enabled_for_organization(connection: HTTPConnection) -> None:
        raw = connection.path_params.get("organization_id")
        try:
            organization_id = raw if isinstance(raw, UUID) else UUID(str(raw))
        except ValueError:
            return  # not an id: the route's own validation answers 422
        states = connection.app.state.kernel.hooks.states
        if slug in (await states.of(organization_id)).disabled:
            await organization_member(connection, organization_id)  # strangers learn nothing
            raise PluginNotEnabled(
                f"The plugin {slug} is not enabled for organization {organization_id}.",
                plugin=slug,
            )

    return plugin_enabled_for_organization


def gated(router: APIRouter, slug: str) -> APIRouter:
    """``router`` with the check on each route under ``{organization_id}``.

    A copy: plugin routers are module singletons shared by every app built in a process,
    so the original's routes are left as they are. Routes keep their order.
    """
    check = Depends(plugin_enabled(slug))
    routes = []
    changed = False
    for route in router.routes:
        if isinstance(route, APIRoute | APIWebSocketRoute) and ORGANIZATION_PARAMETER in route.path:
            route = copy.copy(route)
            route.dependencies = [check, *route.dependencies]
            changed = True
        routes.append(route)
    if not changed:
        return router
    copied = copy.copy(router)
    copied.routes = routes
    return copied
