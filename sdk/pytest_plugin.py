"""pytest plugin of ``ticketing-sdk``: a plugin's tests run it inside the real kernel on
real PostgreSQL, as the platform will run it.

Registered under ``pytest11``, so installing ``ticketing-sdk[testing]`` is all a plugin
project needs. Every fixture is named ``ticketing_*`` and does nothing until a test asks
for it (the platform's own suite loads this plugin too, and never notices it).

Fixtures:

``ticketing_plugins`` (module)
    The plugins under test: those a module's ``pytestmark =
    pytest.mark.ticketing_plugins("pkg.module", ...)`` names, else the ``ticketing_plugins``
    ini option's (``module[:attribute]``, one a line), else the ``ticketing.plugins``
    entry points of the nearest ``pyproject.toml`` above the test file. Override the
    fixture to hand over plugin objects directly.
``ticketing_with_builtins`` (module)
    ``True`` to run the plugins next to every other installed plugin (the server's
    builtins, when the ``ticketing`` distribution is installed) instead of next to the
    kernel alone. Default: the marker's ``with_builtins=``, else the
    ``ticketing_with_builtins`` ini option (false).
``ticketing_database_url`` (module)
    A database of its own for the test session (one per set of migration branches),
    migrated with the kernel's and the plugins' revisions, dropped at the end: created on
    the server ``TICKETING_TEST_DATABASE_URL`` (else ``DATABASE_URL``) names, else on an
    embedded PostgreSQL started in a temporary directory.
``ticketing_kernel`` (module)
    The started :class:`~sdk.Kernel` (its app's lifespan entered: plugins started, jobs
    running inline, the outbox's among them); ``ticketing_app`` is the FastAPI app itself.
``ticketing_organization``
    A new organization (``.id``, ``.slug``, ``.name``): no plugin chosen yet.
``ticketing_new_organization``
    ``await ticketing_new_organization(name=...)``: another one, for tests that need two.
``ticketing_enable_plugin``
    ``await ticketing_enable_plugin(organization_id, slug, settings=None, enabled=True)``:
    turns a plugin on for an organization through the kernel's installations service
    (settings checked against the schema, secrets sealed); an invalid setting raises
    the problem an organizer would get.
``ticketing_call_hook``
    ``await ticketing_call_hook(name, organization_id, **kwargs)``: the hook called as
    the kernel calls it (``kernel.hooks``): only the plugins the organization has on
    answer, each with its settings in ``ctx``.
``ticketing_quote_line``
    ``await ticketing_quote_line(pricing_context, list_price=2000)``: the line priced as
    checkout prices it, from that list price per ticket, by the adjusters of the plugins
    the context's organization has on.
``ticketing_client``
    An ``httpx.AsyncClient`` on the app, for plugins with routes.

The async fixtures run on the session's event loop; set
``asyncio_default_test_loop_scope = "session"`` (the project ``ticketing-sdk new`` makes
does) so the tests run there too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import pytest

try:
    import pytest_asyncio
except ImportError:  # ticketing-sdk installed without its `testing` extra
    pytest_asyncio = None  # type: ignore[assignment]  # the fixtures then say what is missing

__all__ = [
    "pytest_addoption",
    "pytest_configure",
    "ticketing_app",
    "ticketing_call_hook",
    "ticketing_client",
    "ticketing_database_url",
    "ticketing_databases",
    "ticketing_enable_plugin",
    "ticketing_kernel",
    "ticketing_new_organization",
    "ticketing_organization",
    "ticketing_plugin_manager",
    "ticketing_plugins",
    "ticketing_quote_line",
    "ticketing_with_builtins",
]

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI

    from kernel.context import Kernel
    from kernel.organizations import Organization
    from sdk.testkit.databases import ThrowawayDatabases


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "ticketing_plugins",
        "plugins under test, as module[:attribute] (default: the project's "
        "ticketing.plugins entry points)",
        type="linelist",
        default=[],
    )
    parser.addini(
        "ticketing_with_builtins",
        "run the plugins under test next to every installed plugin, not the kernel alone",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ticketing_plugins(*targets, with_builtins=False): the plugins a module's kernel runs "
        "(module[:attribute]), next to the kernel alone or to every installed plugin",
    )


def _marker(request: pytest.FixtureRequest) -> pytest.Mark | None:
    return request.node.get_closest_marker("ticketing_plugins")


def _async_fixture(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """An async fixture on the session's loop, or, without pytest-asyncio, one that
    fails saying what to install."""
    if pytest_asyncio is not None:
        return pytest_asyncio.fixture(loop_scope="session", **options)

    def missing(function: Callable[..., Any]) -> Any:
        def fail(*_args: Any, **_kwargs: Any) -> None:
            pytest.fail(
                f"{function.__name__} needs pytest-asyncio: install 'ticketing-sdk[testing]'"
            )

        fail.__name__ = function.__name__
        return pytest.fixture(**options)(fail)

    return missing


@pytest.fixture(scope="module")
def ticketing_plugins(request: pytest.FixtureRequest) -> list[object]:
    from sdk.testkit.plugins import named_plugins, project_plugins

    marker = _marker(request)
    if marker is not None and marker.args:
        return named_plugins(marker.args)
    named = request.config.getini("ticketing_plugins")
    if named:
        return named_plugins(named)
    return project_plugins(request.path)


@pytest.fixture(scope="module")
def ticketing_with_builtins(request: pytest.FixtureRequest) -> bool:
    marker = _marker(request)
    if marker is not None and "with_builtins" in marker.kwargs:
        return bool(marker.kwargs["with_builtins"])
    return bool(request.config.getini("ticketing_with_builtins"))


@_async_fixture(scope="session")
async def ticketing_databases(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ThrowawayDatabases]:
    from sdk.testkit.databases import ThrowawayDatabases, configured_server

    databases = ThrowawayDatabases(
        configured_server(), tmp_path_factory.mktemp("ticketing-postgres")
    )
    try:
        yield databases
    finally:
        await databases.close()


@pytest.fixture(scope="module")
def ticketing_plugin_manager(ticketing_plugins: list[object], ticketing_with_builtins: bool):
    from sdk.testkit.plugins import plugin_manager

    return plugin_manager(ticketing_plugins, with_builtins=ticketing_with_builtins)


@_async_fixture(scope="module")
async def ticketing_database_url(ticketing_databases: ThrowawayDatabases, ticketing_plugin_manager):
    return await ticketing_databases.migrated(ticketing_plugin_manager)


@_async_fixture(scope="module")
async def ticketing_app(
    ticketing_plugin_manager, ticketing_database_url: str, tmp_path_factory
) -> AsyncIterator[FastAPI]:
    from sdk.testkit.kernel import kernel_settings, running_app

    settings = kernel_settings(tmp_path_factory.mktemp("ticketing-data"), ticketing_database_url)
    async with running_app(settings, ticketing_plugin_manager) as app:
        yield app


@pytest.fixture(scope="module")
def ticketing_kernel(ticketing_app: FastAPI) -> Kernel:
    return ticketing_app.state.kernel


@pytest.fixture
def ticketing_new_organization(ticketing_kernel: Kernel) -> Callable[..., Awaitable[Organization]]:
    from sdk.testkit.kernel import new_organization

    async def create(**options: Any) -> Organization:
        return await new_organization(ticketing_kernel, **options)

    return create


@_async_fixture()
async def ticketing_organization(ticketing_new_organization) -> Organization:
    return await ticketing_new_organization()


@pytest.fixture
def ticketing_enable_plugin(ticketing_kernel: Kernel) -> Callable[..., Awaitable[Any]]:
    from sdk.testkit.kernel import enable_plugin

    async def enable(
        organization_id: Any,
        slug: str,
        settings: Mapping[str, Any] | None = None,
        *,
        enabled: bool = True,
    ) -> Any:
        return await enable_plugin(
            ticketing_kernel,
            getattr(organization_id, "id", organization_id),
            slug,
            settings,
            enabled=enabled,
        )

    return enable


@pytest.fixture
def ticketing_call_hook(ticketing_kernel: Kernel) -> Callable[..., Awaitable[Any]]:
    async def call(name: str, organization_id: Any, /, **kwargs: Any) -> Any:
        organization_id = getattr(organization_id, "id", organization_id)
        return await ticketing_kernel.hooks.call(name, organization_id=organization_id, **kwargs)

    return call


@pytest.fixture
def ticketing_quote_line(ticketing_kernel: Kernel) -> Callable[..., Awaitable[Any]]:
    from sdk.testkit.kernel import quote_line

    async def quote(context: Any, *, list_price: int) -> Any:
        return await quote_line(ticketing_kernel, context, list_price=list_price)

    return quote


@_async_fixture()
async def ticketing_client(ticketing_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    import httpx

    transport = httpx.ASGITransport(app=ticketing_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ticketing.test") as client:
        yield client
