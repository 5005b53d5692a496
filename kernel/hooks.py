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
  :func:`~kernel.markers.errors_propagate`, propagates;
* each implementation's time is observed in ``ticketing_plugin_hook_duration_seconds``
  (by hook and plugin), through a histogram child bound once per plan.

Lifecycle hooks (startup, shutdown) go through :meth:`Hooks.call_everywhere`: every
loaded plugin, whatever organizations chose. Registration hooks (routers, models,
permissions, CLI), called synchronously while the app is built, go through
:meth:`KernelPluginManager.collect` instead.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import GeneratorType
from typing import TYPE_CHECKING, Any
from uuid import UUID

from kernel.markers import PROPAGATES
from kernel.metrics import PLUGIN_FAILURES, PLUGIN_HOOK_LATENCY
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
    wants_context: bool = False  # names ``ctx``
    passed: tuple[str, ...] = ()  # the caller's arguments it names (all but ``ctx``)
    latency: Any = None  # its child of PLUGIN_HOOK_LATENCY, so a call looks up no labels


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
        # Each organization's PluginContexts by slug, built once per answer of
        # ``states.of`` (kept while ``of`` hands back the very same object).
        self._contexts: dict[UUID | None, tuple[OrganizationPlugins, _Contexts]] = {}

    async def call(self, name: str, /, *, organization_id: UUID | None, **kwargs: Any) -> Any:
        """Call hook ``name`` for an organization (``None``: outside any organization).

        Returns the first non-``None`` answer of a ``firstresult`` hook (or ``None``),
        else every answer in call order (``None`` answers left out).
        """
        organization = await self.states.of(organization_id)
        plan = self.plan(name, organization.disabled)
        contexts = self._contexts_of(organization_id, organization)
        kwargs["organization_id"] = organization_id  # for specs that name it too
        if plan.firstresult:
            for implementation in plan.implementations:
                answer = await self._ask(implementation, plan, contexts, kwargs)
                if answer is not None:
                    return answer
            return None
        answers = []
        for implementation in plan.implementations:
            answer = await self._ask(implementation, plan, contexts, kwargs)
            if answer is not None:
                answers.append(answer)
        return answers

    async def answers(
        self, name: str, /, *, organization_id: UUID | None, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        """Every plugin's answer with the slug of the plugin that gave it, in call order."""
        organization = await self.states.of(organization_id)
        plan = self.plan(name, organization.disabled)
        contexts = self._contexts_of(organization_id, organization)
        kwargs["organization_id"] = organization_id  # for specs that name it too
        found = []
        for implementation in plan.implementations:
            answer = await self._ask(implementation, plan, contexts, kwargs)
            if answer is not None:
                found.append((implementation.slug, answer))
        return found

    async def call_everywhere(self, name: str, /, **kwargs: Any) -> list[Any]:
        """Call hook ``name`` of every loaded plugin, whatever any organization chose,
        outside any organization, under the same failure policy; the answers in call order.

        For lifecycle hooks (``ticketing_startup``, ``ticketing_shutdown``): a plugin
        that one organization turned on, even an opt-in one, must be started for it.
        """
        plan = self.plan(name, frozenset())
        contexts = _Contexts(self, None, EVERY_PLUGIN)
        kwargs["organization_id"] = None
        answers = []
        for implementation in plan.implementations:
            answer = await self._ask(implementation, plan, contexts, kwargs)
            if answer is not None:
                answers.append(answer)
        return answers

    async def call_plugin(
        self, slug: str, name: str, /, *, organization_id: UUID | None, **kwargs: Any
    ) -> list[Any] | None:
        """Call hook ``name`` of plugin ``slug`` alone, whether or not the organization has
        it on (it may be on its way out: ``ticketing_plugin_purge``), under the same failure
        policy and with no settings in its context. ``None`` when it does not implement
        the hook, else its answers."""
        others = frozenset(r.slug for r in self.plugins.loaded if r.slug != slug)
        plan = self.plan(name, others)
        if not plan.implementations:
            return None
        contexts = _Contexts(self, organization_id, EVERY_PLUGIN)
        kwargs["organization_id"] = organization_id
        return [await self._ask(i, plan, contexts, kwargs) for i in plan.implementations]

    async def context(self, plugin: str, organization_id: UUID | None) -> PluginContext:
        """The context ``plugin`` is handed for ``organization_id``, for code that calls a
        plugin's object rather than a hook (a payment provider)."""
        organization = await self.states.of(organization_id)
        return self._contexts_of(organization_id, organization)[plugin]

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
            argnames = tuple(impl.argnames)
            implementations.append(
                Implementation(
                    slug,
                    impl.function,
                    argnames,
                    required,
                    wants_context="ctx" in argnames,
                    passed=tuple(argname for argname in argnames if argname != "ctx"),
                    latency=PLUGIN_HOOK_LATENCY.labels(hook=name, plugin=slug),
                )
            )
        return HookPlan(
            hook=name,
            implementations=tuple(implementations),
            firstresult=bool(spec.opts.get("firstresult")),
            propagates=bool(getattr(spec.function, PROPAGATES, False)),
        )

    def _contexts_of(
        self, organization_id: UUID | None, organization: OrganizationPlugins
    ) -> _Contexts:
        cached = self._contexts.get(organization_id)
        if cached is not None and cached[0] is organization and cached[1].kernel is self.kernel:
            return cached[1]
        if len(self._contexts) >= MAX_CACHED_ORGANIZATIONS:
            self._contexts.clear()
        contexts = _Contexts(self, organization_id, organization)
        self._contexts[organization_id] = (organization, contexts)
        return contexts

    async def _ask(
        self,
        implementation: Implementation,
        plan: HookPlan,
        contexts: _Contexts,
        kwargs: dict[str, Any],
    ) -> Any:
        arguments = {argname: kwargs[argname] for argname in implementation.passed}
        if implementation.wants_context:
            arguments["ctx"] = contexts[implementation.slug]
        started = time.perf_counter()
        try:
            answer = implementation.function(**arguments)
            if _awaitable(answer):
                answer = await answer
            return answer
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
        finally:
            implementation.latency.observe(time.perf_counter() - started)


MAX_CACHED_ORGANIZATIONS = 10_000
EVERY_PLUGIN = OrganizationPlugins(disabled=frozenset())


def _awaitable(answer: Any) -> bool:
    """``inspect.isawaitable``, without its slow abstract-class check for plain answers."""
    return hasattr(answer, "__await__") or (
        type(answer) is GeneratorType and inspect.isawaitable(answer)
    )


class _Contexts(dict[str, PluginContext]):
    """One organization's PluginContext per plugin slug, each built when first asked for."""

    __slots__ = ("hooks", "kernel", "organization", "organization_id")

    def __init__(
        self, hooks: Hooks, organization_id: UUID | None, organization: OrganizationPlugins
    ) -> None:
        super().__init__()
        self.hooks = hooks
        self.kernel = hooks.kernel
        self.organization_id = organization_id
        self.organization = organization

    def __missing__(self, slug: str) -> PluginContext:
        context = self[slug] = PluginContext(
            kernel=self.kernel,  # type: ignore[arg-type]  # None only before a kernel attaches
            organization_id=self.organization_id,
            plugin=slug,
            settings=self.organization.settings_of(slug),
        )
        return context
