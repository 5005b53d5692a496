"""The one hook caller: per-organization plugin sets, async answers, context, failures."""

from __future__ import annotations

import uuid
from types import ModuleType

import pytest

from kernel.contracts import LayoutRequest, RenderedLayout
from kernel.hooks import Hooks
from kernel.markers import hookimpl
from kernel.metrics import PLUGIN_FAILURES
from kernel.plugin_manager import create_plugin_manager
from kernel.plugin_metadata import Availability, PluginCategory, PluginMetadata
from kernel.plugin_states import OrganizationPlugins, PluginStates
from kernel.problems import Conflict

ORG_A = uuid.uuid4()
ORG_B = uuid.uuid4()


def plugin(slug: str, availability=Availability.DEFAULT, depends_on=(), **hooks) -> ModuleType:
    module = ModuleType(f"hooks_test_{slug.replace('-', '_')}")
    module.METADATA = PluginMetadata(
        slug=slug,
        name=slug,
        version="1.0",
        category=PluginCategory.LAYOUT,
        availability=availability,
        depends_on=depends_on,
    )
    for name, function in hooks.items():
        setattr(module, name, hookimpl(function))
    return module


class ChosenStates(PluginStates):
    """Organization A turned some plugins off and configured others."""

    def __init__(self, plugins, disabled_for_a=(), settings_for_a=None) -> None:
        super().__init__(plugins)
        self.a = OrganizationPlugins(frozenset(disabled_for_a), settings_for_a or {})

    async def of(self, organization_id):
        return self.a if organization_id == ORG_A else self.defaults()


def hooks_for(*plugins, disabled_for_a=(), settings_for_a=None) -> Hooks:
    manager = create_plugin_manager(group="no-such-group", extra_plugins=plugins)
    hooks = Hooks(manager, ChosenStates(manager, disabled_for_a, settings_for_a))
    hooks.kernel = "the kernel"
    return hooks


def render(kind: str = "ticket", organization_id=ORG_A) -> LayoutRequest:
    return LayoutRequest(kind=kind, format="text/plain", organization_id=organization_id)


def plain(request):
    return RenderedLayout("text/plain", b"plain")


async def fancy(request):
    return RenderedLayout("text/html", b"fancy") if request.kind == "ticket" else None


async def test_an_organization_that_turned_a_plugin_off_does_not_hear_from_it() -> None:
    hooks = hooks_for(
        plugin("plain", ticketing_layout_render=plain),
        plugin("fancy", ticketing_layout_render=fancy),
        disabled_for_a={"fancy"},
    )

    for_a = await hooks.call("ticketing_layout_render", organization_id=ORG_A, request=render())
    for_b = await hooks.call("ticketing_layout_render", organization_id=ORG_B, request=render())

    assert for_a.body == b"plain"
    assert for_b.body == b"fancy"


async def test_a_firstresult_hook_goes_on_past_an_async_answer_that_resolves_to_none() -> None:
    hooks = hooks_for(
        plugin("plain", ticketing_layout_render=plain),
        plugin("fancy", ticketing_layout_render=fancy),
    )

    order = await hooks.call(
        "ticketing_layout_render", organization_id=ORG_B, request=render("order")
    )

    assert order.body == b"plain"


async def test_opt_in_plugins_are_off_and_their_dependants_with_them() -> None:
    def grant(slug):
        return lambda ctx: [f"{slug}:{ctx.plugin}"]

    hooks = hooks_for(
        plugin("base", ticketing_checkout_validate=grant("base")),
        plugin("extra", Availability.OPT_IN, ticketing_checkout_validate=grant("extra")),
        plugin("addon", depends_on=("extra",), ticketing_checkout_validate=grant("addon")),
    )

    answers = await hooks.call("ticketing_checkout_validate", organization_id=ORG_B, cart=None)

    assert answers == [["base:base"]]


async def test_each_plugin_gets_its_own_settings_for_the_organization() -> None:
    def seen(ctx, cart):
        return [(ctx.plugin, ctx.organization_id, dict(ctx.settings), ctx.kernel)]

    hooks = hooks_for(
        plugin("one", ticketing_checkout_validate=seen),
        plugin("two", ticketing_checkout_validate=seen),
        settings_for_a={"one": {"percent": 10}},
    )

    answers = await hooks.answers("ticketing_checkout_validate", organization_id=ORG_A, cart=1)

    assert sorted(answers) == [
        ("one", [("one", ORG_A, {"percent": 10}, "the kernel")]),
        ("two", [("two", ORG_A, {}, "the kernel")]),
    ]


async def test_an_optional_plugin_that_fails_is_counted_and_skipped() -> None:
    def broken(cart):
        raise RuntimeError("boom")

    hooks = hooks_for(
        plugin("broken", ticketing_checkout_validate=broken),
        plugin("fine", ticketing_checkout_validate=lambda cart: ["fine"]),
    )
    counter = PLUGIN_FAILURES.labels(plugin="broken", stage="ticketing_checkout_validate")
    before = counter._value.get()

    answers = await hooks.call("ticketing_checkout_validate", organization_id=ORG_A, cart=None)

    assert answers == [["fine"]]
    assert counter._value.get() == before + 1


async def test_a_required_plugins_failure_and_any_problem_reach_the_caller() -> None:
    def broken(cart):
        raise RuntimeError("core is broken")

    def refuses(cart):
        raise Conflict("sold out")

    required = hooks_for(plugin("core", Availability.REQUIRED, ticketing_checkout_validate=broken))
    with pytest.raises(RuntimeError, match="core is broken"):
        await required.call("ticketing_checkout_validate", organization_id=ORG_A, cart=None)

    optional = hooks_for(plugin("picky", ticketing_checkout_validate=refuses))
    with pytest.raises(Conflict):
        await optional.call("ticketing_checkout_validate", organization_id=ORG_A, cart=None)


async def test_a_hook_marked_errors_propagate_never_skips_a_failure() -> None:
    def broken(order, session):
        raise RuntimeError("half a change")

    hooks = hooks_for(plugin("writer", ticketing_checkout_before_order_placed=broken))

    with pytest.raises(RuntimeError, match="half a change"):
        await hooks.call(
            "ticketing_checkout_before_order_placed",
            organization_id=ORG_A,
            order=None,
            session=None,
        )


async def test_a_plugin_registered_later_is_heard_by_plans_made_before() -> None:
    hooks = hooks_for(plugin("plain", ticketing_layout_render=plain))
    first = await hooks.call("ticketing_layout_render", organization_id=ORG_B, request=render())

    hooks.plugins.add_plugin(plugin("fancy", ticketing_layout_render=fancy))
    second = await hooks.call("ticketing_layout_render", organization_id=ORG_B, request=render())

    assert (first.body, second.body) == (b"plain", b"fancy")


async def test_a_spec_that_names_the_organization_hands_it_to_implementations() -> None:
    def unlocks(organization_id, event_id, promo_code):
        return [organization_id] if promo_code == "OPEN" else None

    hooks = hooks_for(plugin("codes", ticketing_pricing_unlocked_ticket_types=unlocks))

    answers = await hooks.call(
        "ticketing_pricing_unlocked_ticket_types",
        organization_id=ORG_B,
        event_id=uuid.uuid4(),
        promo_code="OPEN",
    )
    assert answers == [[ORG_B]]
