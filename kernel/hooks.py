"""The one way the kernel and plugins call a hook.

``await kernel.hooks.call("ticketing_pricing_tax", organization_id=org, line=..., ...)``

* only the organization's enabled plugins answer (pluggy's ``subset_hook_caller``
  without the plugins it turned off; the implementations are cached per set of
  disabled plugins, and the cache follows every register and unregister);
* an implementation may be ``async``: each answer is awaited before the next plugin is
  asked, so ``firstresult`` hooks stop at the first answer that *resolves* to a value;
* an implementation that names ``ctx`` gets a :class:`~kernel.plugin_context.PluginContext`
  with the kernel, the organization and its own settings;
* one failure policy: a :class:`~kernel.problems.Problem` is a deliberate answer and
  always reaches the caller; any other exception from an optional plugin is logged with
  its slug, counted in ``ticketing_plugin_failures_total`` and skipped, while a required
  plugin's error, or any error in a hook marked
  :func:`~kernel.markers.errors_propagate`, propagates.

Registration hooks (routers, models, permissions, CLI), called synchronously while the
app is built, go through :meth:`KernelPluginManager.collect` instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from kernel.awaitables import await_me_maybe
from kernel.markers import PROPAGATES
from kernel.metrics import PLUGIN_FAILURES
from kernel.plugin_context import PluginContext
from kernel.plugin_manager import KernelPluginManager
from kernel.plugin_states import OrganizationPlugins, PluginStates
from kernel.problems import Problem

if TYPE_CHECKING:
    from kernel.context import Kernel

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Implementation:
    slug: str
    function: Callable[..., Any]
    argnames: tuple[str, ...]
    required: bool


@dataclass(frozen=True, slots=True)
class HookPlan:
    """What calling one hook for one set of disabled plugins means, worked out once."""

    hook: str
    implementations: tuple[Implementation, ...]
    firstresult: bool
    propagates: bool


class Hooks:
    def __init__(self, plugins: KernelPluginManager, states: PluginStates) -> None:
        self.plugins = plugins
        self.states = states
        self.kernel: Kernel | None = None  # set by the kernel that owns this caller
        self._plans: dict[tuple[int, frozenset[str], str], HookPlan] = {}

    async def call(self, name: str, /, *, organization_id: UUID | None, **kwargs: Any) -> Any:
        """Call hook ``name`` for an organization (``None``: outside any organization).

        Returns the first non-``None`` answer of a ``firstresult`` hook (or ``None``),
        else every answer in call order (``None`` answers left out).
        """
        organization = await self.states.of(organization_id)
        plan = self.plan(name, organization.disabled)
        if plan.firstresult:
            for implementation in plan.implementations:
                answer = await self._ask(
                    implementation, plan, organization_id, organization, kwargs
                )
                if answer is not None:
                    return answer
            return None
        answers = []
        for implementation in plan.implementations:
            answer = await self._ask(implementation, plan, organization_id, organization, kwargs)
            if answer is not None:
                answers.append(answer)
        return answers

    async def answers(
        self, name: str, /, *, organization_id: UUID | None, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        """Every plugin's answer with the slug of the plugin that gave it, in call order."""
        organization = await self.states.of(organization_id)
        plan = self.plan(name, organization.disabled)
        found = []
        for implementation in plan.implementations:
            answer = await self._ask(implementation, plan, organization_id, organization, kwargs)
            if answer is not None:
                found.append((implementation.slug, answer))
        return found

    def plan(self, name: str, disabled: frozenset[str]) -> HookPlan:
        key = (self.plugins.generation, disabled, name)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._make_plan(name, disabled)
        return plan

    def _make_plan(self, name: str, disabled: frozenset[str]) -> HookPlan:
        removed = [plugin for slug in disabled if (plugin := self.plugins.get_plugin(slug))]
        caller = self.plugins.subset_hook_caller(name, removed)
        spec = caller.spec
        if spec is None:
            raise LookupError(f"no hook specification named {name}")
        implementations = []
        for impl in reversed(caller.get_hookimpls()):  # pluggy's call order
            if impl.hookwrapper or impl.wrapper:
                continue
            slug = self.plugins.slug_of(impl.plugin)
            record = self.plugins.record(slug)
            required = bool(record and record.metadata and record.metadata.required)
            implementations.append(Implementation(slug, impl.function, impl.argnames, required))
        return HookPlan(
            hook=name,
            implementations=tuple(implementations),
            firstresult=bool(spec.opts.get("firstresult")),
            propagates=bool(getattr(spec.function, PROPAGATES, False)),
        )

    async def _ask(
        self,
        implementation: Implementation,
        plan: HookPlan,
        organization_id: UUID | None,
        organization: OrganizationPlugins,
        kwargs: dict[str, Any],
    ) -> Any:
        arguments = {}
        for argname in implementation.argnames:
            if argname == "ctx":
                arguments["ctx"] = PluginContext(
                    kernel=self.kernel,
                    organization_id=organization_id,
                    plugin=implementation.slug,
                    settings=organization.settings_of(implementation.slug),
                )
            else:
                arguments[argname] = kwargs[argname]
        try:
            return await await_me_maybe(implementation.function(**arguments))
        except Problem:
            raise
        except Exception:
            PLUGIN_FAILURES.labels(plugin=implementation.slug, stage=plan.hook).inc()
            if implementation.required or plan.propagates:
                raise
            logger.exception(
                "plugin hook failed; skipped",
                extra={"plugin": implementation.slug, "hook": plan.hook},
            )
            return None
