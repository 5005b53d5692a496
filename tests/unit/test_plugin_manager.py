"""The plugin manager: discovery through real entry points, order, isolation of failures.

Plugins come from a real distribution written into ``tmp_path`` and found by
``importlib.metadata`` (see :mod:`tests.support.plugin_distribution`), next to the builtin
``identity`` and ``events`` plugins of the installed ``ticketing`` distribution.
"""

from __future__ import annotations

import inspect
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from importlib.metadata import entry_points, version
from pathlib import Path
from types import ModuleType

import pytest

from kernel.contracts import LayoutRequest, Money, PaymentRequest, Permission, RenderedLayout
from kernel.markers import hookimpl
from kernel.metrics import PLUGIN_FAILURES
from kernel.plugin_manager import (
    ENTRY_POINT_GROUP,
    KernelPluginManager,
    PluginStatus,
    create_plugin_manager,
)
from kernel.plugin_metadata import PluginCategory, PluginMetadata
from tests.support.hook_caller import hooks_of
from tests.support.plugin_distribution import DemoDistribution, installed_distribution

# every plugin this project ships, by entry point name (sorted)
BUILTINS = (
    "analytics",
    "demand-surge",
    "early-bird",
    "email",
    "events",
    "identity",
    "marketplace",
    "orders",
    "payments-manual",
    "payments-stripe",
    "promotions",
    "quantity-tiers",
    "taxes",
    "ticketing",
    "time-to-event",
    "webhooks",
)

HEADER = """\
from kernel.contracts import Permission
from kernel.markers import hookimpl
from kernel.plugin_metadata import PluginMetadata
"""


def plugin_source(slug: str | None, hooks: str = "", **metadata: object) -> str:
    """Source of a plugin module declaring ``METADATA`` (from ``metadata``) and ``hooks``."""
    fields = {"slug": slug, "name": f"Plugin {slug}", "version": "1.0", "category": "ticketing"}
    fields.update(metadata)
    arguments = ", ".join(f"{key}={value!r}" for key, value in fields.items())
    return f"{HEADER}\nMETADATA = PluginMetadata({arguments})\n\n{textwrap.dedent(hooks)}"


def grants(slug: str, marker: str = "@hookimpl") -> str:
    """A ``ticketing_permissions`` implementation granting ``<slug>:use``."""
    return textwrap.dedent(
        f"""
        {marker}
        def ticketing_permissions():
            return [Permission("{slug}:use", "granted by {slug}")]
        """
    )


def permission_plugin(slug: str, marker: str = "@hookimpl", **metadata: object) -> str:
    return plugin_source(slug, grants(slug, marker), **metadata)


def module_plugin(slug: str, **hooks: Callable) -> ModuleType:
    """A plugin built in the test (as the bundle and remote loaders hand them over)."""
    module = ModuleType(f"inline_plugin_{slug.replace('-', '_')}")
    module.METADATA = PluginMetadata(
        slug=slug, name=f"Plugin {slug}", version="1.0", category=PluginCategory.TICKETING
    )
    for name, function in hooks.items():
        setattr(module, name, function)
    return module


BUILTIN_SLUGS = set(BUILTINS)
BUILTIN_PERMISSION_AREAS = {
    "org",
    "plugins",
    "reports",
    "tickets",
    "orders",
    "events",
    "promotions",
    "payments",
    "taxes",
    "webhooks",
}


def granted(manager: KernelPluginManager) -> list[str]:
    """Every ``<slug>:use`` permission the test plugins grant, in pluggy's call order.

    The builtin plugins declare real permissions through the same hook; they are left
    out so the tests see only the plugins they installed.
    """
    return [
        p.name
        for answer in manager.hook.ticketing_permissions()
        for p in answer
        if p.name.split(":", 1)[0] not in BUILTIN_PERMISSION_AREAS
    ]


def collected_slugs(manager: KernelPluginManager, hook_name: str) -> list[str]:
    return [slug for slug, _ in manager.collect(hook_name) if slug not in BUILTIN_SLUGS]


def failures(slug: str, stage: str) -> float:
    return PLUGIN_FAILURES.labels(plugin=slug, stage=stage)._value.get()


@pytest.fixture
def install(tmp_path: Path) -> Iterator[Callable[..., DemoDistribution]]:
    """Install one test distribution; it is uninstalled when the test ends."""
    with ExitStack() as stack:

        def _install(modules: dict[str, str], entry_points=None) -> DemoDistribution:
            return stack.enter_context(
                installed_distribution(tmp_path / "site", modules, entry_points)
            )

        yield _install


def payment(hint: str | None = None) -> PaymentRequest:
    return PaymentRequest(
        organization_id=uuid.uuid4(),
        order_id=uuid.uuid4(),
        amount=Money(2500, "EUR"),
        idempotency_key="order-1",
        method_hint=hint,
    )


def layout(kind: str) -> LayoutRequest:
    return LayoutRequest(kind=kind, format="text/plain", organization_id=uuid.uuid4())


# ---------------------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------------------


def test_builtins_and_an_installed_distribution_are_loaded_from_entry_points(install) -> None:
    dist = install({"alpha": permission_plugin("alpha")})

    manager = create_plugin_manager()

    by_slug = {record.slug: record for record in manager.records}
    assert sorted(by_slug) == ["alpha", *BUILTINS]
    assert all(record.status is PluginStatus.LOADED for record in by_slug.values())
    ticketing = f"ticketing {version('ticketing')}"
    assert by_slug["identity"].source == f"entry point builtin_plugins.identity ({ticketing})"
    assert by_slug["events"].source == f"entry point builtin_plugins.events ({ticketing})"
    assert by_slug["alpha"].source == "entry point demo_plugins.alpha (demo-plugins 1.0)"
    assert dist.describe in by_slug["alpha"].source
    assert by_slug["alpha"].plugin is sys.modules["demo_plugins.alpha"]
    assert by_slug["alpha"].metadata.category is PluginCategory.TICKETING
    assert granted(manager) == ["alpha:use"]
    assert [slug for slug, _ in manager.collect("ticketing_migration_location")] == [
        "webhooks",
        "ticketing",
        "taxes",
        "promotions",
        "payments-stripe",
        "orders",
        "marketplace",
        "identity",
        "events",
        "email",
        "analytics",
    ]


def test_an_uninstalled_distribution_is_no_longer_discovered(tmp_path: Path) -> None:
    with installed_distribution(tmp_path, {"alpha": permission_plugin("alpha")}) as dist:
        assert str(tmp_path) in sys.path
        names = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
        assert names == {"alpha", *BUILTINS}
        assert create_plugin_manager().record("alpha") is not None
        assert dist.value("alpha") in sys.modules

    assert str(tmp_path) not in sys.path
    assert not [name for name in sys.modules if name.split(".")[0] == "demo_plugins"]
    assert {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)} == set(BUILTINS)
    manager = create_plugin_manager()
    assert manager.record("alpha") is None
    assert granted(manager) == []


def test_each_installation_imports_its_own_fresh_modules(tmp_path: Path) -> None:
    with installed_distribution(tmp_path / "one", {"alpha": permission_plugin("alpha")}):
        first = create_plugin_manager()
    source = plugin_source(
        "alpha",
        """
        @hookimpl
        def ticketing_permissions():
            return [Permission("alpha:changed", "second version")]
        """,
    )
    with installed_distribution(tmp_path / "two", {"alpha": source}):
        second = create_plugin_manager()

    assert granted(first) == ["alpha:use"]
    assert granted(second) == ["alpha:changed"]


# ---------------------------------------------------------------------------------------
# Order
# ---------------------------------------------------------------------------------------


def test_entry_points_register_by_name_and_pluggy_calls_last_registered_first(install) -> None:
    # entry_points.txt lists them out of order: registration must sort by name.
    install(
        {
            "gamma": permission_plugin("gamma"),
            "alpha": permission_plugin("alpha", "@hookimpl(trylast=True)"),
            "delta": permission_plugin("delta", "@hookimpl(tryfirst=True)"),
            "beta": permission_plugin("beta"),
        }
    )
    extra = module_plugin(
        "extra",
        ticketing_permissions=hookimpl(lambda: [Permission("extra:use", "granted by extra")]),
    )

    manager = create_plugin_manager(extra_plugins=[extra])

    assert [r.slug for r in manager.records] == [
        *sorted(["alpha", "beta", "delta", "gamma", *BUILTINS]),
        "extra",
    ]
    # tryfirst, then the last registered first (extra after every entry point), then trylast
    expected = ["delta", "extra", "gamma", "beta", "alpha"]
    assert granted(manager) == [f"{slug}:use" for slug in expected]
    assert collected_slugs(manager, "ticketing_permissions") == expected


# ---------------------------------------------------------------------------------------
# firstresult hooks
# ---------------------------------------------------------------------------------------


def test_choose_provider_takes_the_first_answer_and_skips_plugins_that_return_none() -> None:
    calls: list[str] = []

    @hookimpl(trylast=True)
    def default_provider(request, providers):
        calls.append("manual")
        return "manual"

    @hookimpl
    def card_router(request, providers):
        calls.append("card-router")
        return "stripe" if request.method_hint == "card" and "stripe" in providers else None

    manager = create_plugin_manager(
        extra_plugins=[
            module_plugin("manual", ticketing_payment_choose_provider=default_provider),
            module_plugin("card-router", ticketing_payment_choose_provider=card_router),
        ]
    )
    choose = manager.hook.ticketing_payment_choose_provider
    providers = {"manual": object(), "stripe": object()}

    assert choose(request=payment("card"), providers=providers) == "stripe"
    assert calls == ["card-router"]  # the default was never asked

    calls.clear()
    assert choose(request=payment("invoice"), providers=providers) == "manual"
    assert calls == ["card-router", "manual"]

    calls.clear()
    assert choose(request=payment("card"), providers={"manual": object()}) == "manual"


async def test_layout_render_lets_a_plugin_restyle_over_the_trylast_default() -> None:
    @hookimpl(trylast=True)
    def builtin_layout(request):
        return RenderedLayout("text/plain", f"plain {request.kind}".encode())

    @hookimpl
    def restyle(request):
        if request.kind == "ticket":
            return RenderedLayout("text/plain", b"fancy ticket")
        return None

    manager = create_plugin_manager(
        extra_plugins=[
            module_plugin("restyle", ticketing_layout_render=restyle),
            module_plugin("builtin-layout", ticketing_layout_render=builtin_layout),
        ]
    )
    hooks = hooks_of(manager)

    async def render(request):
        return await hooks.call("ticketing_layout_render", organization_id=None, request=request)

    assert (await render(layout("ticket"))).body == b"fancy ticket"
    assert (await render(layout("order"))).body == b"plain order"


async def test_a_firstresult_hook_awaits_async_answers_before_deciding() -> None:
    calls: list[str] = []

    @hookimpl(trylast=True)
    def builtin_layout(request):
        calls.append("builtin")
        return RenderedLayout("text/plain", f"plain {request.kind}".encode())

    @hookimpl
    async def restyle(request):
        calls.append("restyle")
        if request.kind == "ticket":
            return RenderedLayout("text/html", b"<b>fancy ticket</b>")
        return None

    manager = create_plugin_manager(
        extra_plugins=[
            module_plugin("builtin-layout", ticketing_layout_render=builtin_layout),
            module_plugin("restyle", ticketing_layout_render=restyle),
        ]
    )
    caller = manager.hook.ticketing_layout_render

    # pluggy on its own stops at the coroutine, even though it resolves to None.
    stopped = caller(request=layout("order"))
    assert inspect.iscoroutine(stopped)
    stopped.close()
    calls.clear()

    hooks = hooks_of(manager)
    order = await hooks.call(
        "ticketing_layout_render", organization_id=None, request=layout("order")
    )
    assert order == RenderedLayout("text/plain", b"plain order")
    assert calls == ["restyle", "builtin"]

    calls.clear()
    ticket = await hooks.call(
        "ticketing_layout_render", organization_id=None, request=layout("ticket")
    )
    assert ticket == RenderedLayout("text/html", b"<b>fancy ticket</b>")
    assert calls == ["restyle"]


async def test_a_firstresult_hook_is_none_when_nobody_answers() -> None:
    @hookimpl
    async def nothing(request):
        return None

    manager = create_plugin_manager(
        extra_plugins=[module_plugin("silent", ticketing_layout_render=nothing)]
    )

    answer = await hooks_of(manager).call(
        "ticketing_layout_render", organization_id=None, request=layout("x")
    )
    assert answer is None


# ---------------------------------------------------------------------------------------
# Broken plugins are isolated
# ---------------------------------------------------------------------------------------


def _broken(slug: str, hooks: str = "", **metadata: object) -> str:
    """A plugin that would grant ``<slug>:use`` if it were (wrongly) registered."""
    return plugin_source(slug, grants(slug) + textwrap.dedent(hooks), **metadata)


BROKEN = {
    "raises_on_import": (
        'raise RuntimeError("cannot reach the licence server")\n',
        "import failed: RuntimeError: cannot reach the licence server",
    ),
    "missing_dependency": (
        "import ticketing_dependency_that_is_not_installed\n",
        "import failed: ModuleNotFoundError: No module named "
        "'ticketing_dependency_that_is_not_installed'",
    ),
    "import_error": (
        "from kernel.contracts import NoSuchContract\n",
        "import failed: ImportError: cannot import name 'NoSuchContract'",
    ),
    "no_metadata": (
        HEADER + grants("no-metadata"),
        "invalid metadata: plugin does not declare METADATA = PluginMetadata(...)",
    ),
    "metadata_of_wrong_type": (
        HEADER + "METADATA = {'slug': 'metadata-of-wrong-type'}\n" + grants("x"),
        "invalid metadata: plugin does not declare METADATA",
    ),
    "bad_category": (
        _broken("bad-category", category="gambling"),
        "invalid metadata: category 'gambling' is not one of: payments,",
    ),
    "bad_slug": (
        _broken("Bad Slug"),
        "invalid metadata: slug 'Bad Slug' does not match",
    ),
    "slug_not_a_string": (
        _broken(None),
        "invalid metadata: slug None does not match",
    ),
    "no_version": (
        _broken("no-version", version=""),
        "invalid metadata: name and version are required",
    ),
    "bad_settings_schema": (
        _broken(
            "bad-settings-schema",
            settings_schema={"type": "object", "properties": {"fee": {"type": "money"}}},
        ),
        "invalid metadata: settings_schema is not valid JSON Schema: 'money' is not valid",
    ),
    "slug_differs": (
        _broken("another-name"),
        "invalid metadata: slug 'another-name' differs from its entry point name 'slug-differs'",
    ),
    "misspelt_hook": (
        _broken(
            "misspelt-hook",
            """
            @hookimpl
            def ticketing_pricing_adjuster(context):
                return []
            """,
        ),
        "implements unknown hooks (misspelt?): ticketing_pricing_adjuster",
    ),
    "unknown_argument": (
        # ticketing_permissions (valid) sorts before ticketing_startup (invalid)
        _broken(
            "unknown-argument",
            """
            @hookimpl
            def ticketing_startup(kernel, organization):
                pass
            """,
        ),
        "invalid hook implementation: Plugin 'unknown-argument' for hook 'ticketing_startup'",
    ),
    "misspelt_and_unknown_argument": (
        _broken(
            "misspelt-and-unknown-argument",
            """
            @hookimpl
            def ticketing_pricing_adjuster(context):
                return []

            @hookimpl
            def ticketing_startup(kernel, organization):
                pass
            """,
        ),
        "invalid hook implementation: ",
    ),
}


@pytest.mark.parametrize("module", list(BROKEN))
def test_a_broken_plugin_is_failed_with_its_reason_and_the_others_load(install, module) -> None:
    source, reason = BROKEN[module]
    slug = module.replace("_", "-")
    install({"good": permission_plugin("good"), module: source})
    before = failures(slug, "load")

    manager = create_plugin_manager()

    failed = [r for r in manager.records if r.status is PluginStatus.FAILED]
    assert [(r.slug, r.source) for r in failed] == [
        (slug, f"entry point demo_plugins.{module} (demo-plugins 1.0)")
    ]
    assert reason in failed[0].reason
    assert failures(slug, "load") == before + 1
    assert sorted(r.slug for r in manager.loaded) == sorted(["good", *BUILTINS])
    assert manager.record(slug) is None
    assert manager.get_plugin(slug) is None
    # nothing of the broken plugin stays registered, even a hook that was valid
    assert granted(manager) == ["good:use"]
    manager.check_pending()


def test_every_kind_of_broken_plugin_at_once_leaves_the_good_ones_running(install) -> None:
    modules = {module: source for module, (source, _) in BROKEN.items()}
    install({"good": permission_plugin("good"), **modules, "zeta": permission_plugin("zeta")})

    manager = create_plugin_manager()

    reasons = {r.slug: r.reason for r in manager.records if r.status is PluginStatus.FAILED}
    assert reasons.keys() == {module.replace("_", "-") for module in BROKEN}
    for module, (_, reason) in BROKEN.items():
        assert reason in reasons[module.replace("_", "-")]
    assert sorted(r.slug for r in manager.loaded) == sorted(["good", "zeta", *BUILTINS])
    assert granted(manager) == ["zeta:use", "good:use"]
    manager.check_pending()


def test_a_broken_plugin_passed_in_directly_is_failed_too() -> None:
    @hookimpl
    def ticketing_pricing_adjuster(context):
        return []

    misspelt = module_plugin("misspelt", ticketing_pricing_adjuster=ticketing_pricing_adjuster)
    anonymous = ModuleType("anonymous")
    trailing_newline = module_plugin("newline\n")

    manager = create_plugin_manager(extra_plugins=[misspelt, anonymous, trailing_newline])

    failed = {r.slug: r.reason for r in manager.records if r.status is PluginStatus.FAILED}
    assert failed == {
        "misspelt": "implements unknown hooks (misspelt?): ticketing_pricing_adjuster",
        repr(anonymous): "invalid metadata: plugin does not declare METADATA = PluginMetadata(...)",
        repr(trailing_newline): "invalid metadata: slug 'newline\\n' does not match "
        "^[a-z][a-z0-9_-]{1,62}$",
    }
    assert sorted(r.slug for r in manager.loaded) == list(BUILTINS)
    manager.check_pending()


# ---------------------------------------------------------------------------------------
# Duplicate slugs
# ---------------------------------------------------------------------------------------


def test_the_second_plugin_with_a_slug_is_failed_and_the_first_keeps_working(install) -> None:
    second = plugin_source(
        "dup",
        """
        @hookimpl
        def ticketing_permissions():
            return [Permission("dup:second", "the impostor")]
        """,
    )
    install(
        {"dup_first": permission_plugin("dup"), "dup_second": second},
        [("dup", "dup_second"), ("dup", "dup_first")],
    )

    manager = create_plugin_manager()

    records = [r for r in manager.records if r.slug == "dup"]
    assert [(r.status, r.source.split()[2]) for r in records] == [
        (PluginStatus.LOADED, "demo_plugins.dup_first"),
        (PluginStatus.FAILED, "demo_plugins.dup_second"),
    ]
    assert records[1].reason == "another plugin already uses this slug"
    assert manager.record("dup") is records[0]
    assert manager.get_plugin("dup") is sys.modules["demo_plugins.dup_first"]
    assert granted(manager) == ["dup:use"]


def test_a_plugin_cannot_take_over_a_builtin_slug() -> None:
    @hookimpl
    def ticketing_api_routers():
        return ["hijacked"]

    impostor = module_plugin("events", ticketing_api_routers=ticketing_api_routers)

    manager = create_plugin_manager(extra_plugins=[impostor])

    events = [r for r in manager.records if r.slug == "events"]
    assert [r.status for r in events] == [PluginStatus.LOADED, PluginStatus.FAILED]
    assert events[1].plugin is None
    assert manager.get_plugin("events") is sys.modules["builtin_plugins.events"]
    routers = manager.collect("ticketing_api_routers")
    assert [slug for slug, _ in routers].count("events") == 1
    assert "hijacked" not in routers[0][1]


# ---------------------------------------------------------------------------------------
# Disabled plugins
# ---------------------------------------------------------------------------------------


def test_disabled_plugins_are_recorded_and_never_called(install) -> None:
    install({"alpha": permission_plugin("alpha"), "beta": permission_plugin("beta")})

    @hookimpl
    def extra_permissions():
        return [Permission("extra:use", "granted by extra")]

    extra = module_plugin("extra", ticketing_permissions=extra_permissions)

    manager = create_plugin_manager(disabled=["alpha", "extra"], extra_plugins=[extra])

    statuses = {r.slug: (r.status, r.reason) for r in manager.records}
    assert statuses["alpha"] == (PluginStatus.DISABLED, "disabled by settings")
    assert statuses["extra"] == (PluginStatus.DISABLED, "disabled by settings")
    assert statuses["beta"] == (PluginStatus.LOADED, None)
    assert manager.get_plugin("alpha") is None
    assert granted(manager) == ["beta:use"]
    assert collected_slugs(manager, "ticketing_permissions") == ["beta"]
    assert manager.record("alpha").status is PluginStatus.DISABLED


def test_a_required_plugin_cannot_be_disabled(install) -> None:
    install({"core": permission_plugin("core", availability="required")})

    manager = create_plugin_manager(disabled=["core", "identity"])

    assert manager.record("core").status is PluginStatus.LOADED
    assert manager.record("identity").status is PluginStatus.LOADED
    assert granted(manager) == ["core:use"]
    assert "identity" in [slug for slug, _ in manager.collect("ticketing_orm_models")]


# ---------------------------------------------------------------------------------------
# startup and collect isolate failing implementations
# ---------------------------------------------------------------------------------------

STARTUP = {
    "alpha": """
        @hookimpl
        def ticketing_startup(kernel):
            kernel.append("alpha")
            return "alpha ready"
    """,
    "beta": """
        @hookimpl
        def ticketing_startup(kernel):
            raise RuntimeError("beta cannot start")
    """,
    "gamma": """
        @hookimpl
        async def ticketing_startup(kernel):
            kernel.append("gamma")
            return "gamma ready"
    """,
    "delta": """
        @hookimpl
        async def ticketing_startup(kernel):
            raise ConnectionError("delta lost its broker")
    """,
}


async def test_startup_reaches_every_plugin_and_a_failing_one_is_skipped(install) -> None:
    """What the app does at startup: every loaded plugin, one failure policy."""
    install({slug: plugin_source(slug, hooks) for slug, hooks in STARTUP.items()})
    manager = create_plugin_manager()
    for record in manager.loaded:  # the builtins start against a real kernel only
        if record.slug not in STARTUP:
            manager.unregister(name=record.slug)
    before = {slug: failures(slug, "ticketing_startup") for slug in STARTUP}
    started: list[str] = []

    answers = await hooks_of(manager).call_everywhere("ticketing_startup", kernel=started)

    assert answers == ["gamma ready", "alpha ready"]
    assert started == ["gamma", "alpha"]
    after = {slug: failures(slug, "ticketing_startup") for slug in STARTUP}
    assert {slug: after[slug] - before[slug] for slug in STARTUP} == {
        "alpha": 0,
        "beta": 1,
        "gamma": 0,
        "delta": 1,
    }


def test_collect_isolates_a_failing_registration_hook(install) -> None:
    install(
        {
            "alpha": permission_plugin("alpha"),
            "beta": plugin_source(
                "beta",
                """
                @hookimpl
                def ticketing_permissions():
                    raise KeyError("beta's permission table")
                """,
            ),
            "gamma": plugin_source(
                "gamma",
                """
                @hookimpl
                async def ticketing_permissions():
                    return [Permission("gamma:use", "too late")]
                """,
            ),
            "delta": permission_plugin("delta"),
        }
    )
    manager = create_plugin_manager()
    before = failures("beta", "ticketing_permissions")

    results = manager.collect("ticketing_permissions")

    assert [
        (slug, [p.name for p in answer]) for slug, answer in results if slug not in BUILTIN_SLUGS
    ] == [
        ("delta", ["delta:use"]),
        ("alpha", ["alpha:use"]),
    ]
    assert failures("beta", "ticketing_permissions") == before + 1
