"""Alembic: kernel and plugin branches go up and down on a fresh database, and match the models."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from kernel import migrate
from kernel.db import Base
from kernel.plugin_manager import KernelPluginManager
from kernel.schema import import_models
from tests.support.databases import create_database, drop_database

ANALYTICS_TABLES = {
    "analytics_sales",
    "analytics_applied_event",
    "analytics_ticket_activity",
    "analytics_page_view",
    "analytics_demographic_member",
    "analytics_demographic_order",
    "analytics_first_seen_buyer",
    "analytics_demographic_applied_event",
    "analytics_demographic_key",
}
KERNEL_TABLES = {
    "organization",
    "outbox_event",
    "outbox_delivery",
    "idempotency_key",
    "audit_entry",
    "plugin_installation",
    "plugin_block",
    "platform_admin",
    "plugin_generation",
    "plugin_deployment",
    "plugin_revocation",
    "plugin_document",
    "remote_plugin",
}
IDENTITY_TABLES = {
    "user_account",
    "membership",
    "oauth_account",
    "user_session",
    "refresh_token",
    "recovery_code",
    "two_factor_challenge",
    "organization_invitation",
}
IDENTITY_TYPES = {"membership_role", "invitation_status"}
EVENTS_TABLES = {
    "event",
    "ticket_type",
    "event_category",
    "event_date",
    "event_image",
    "inventory_pool",
    "inventory_pool_member",
    "inventory_hold",
    "inventory_pool_hold",
}
TICKETING_TABLES = {
    "ticket_signing_key",
    "ticket_issue",
    "ticket",
    "checkin_list",
    "ticket_checkin",
    "ticket_transfer",
    "ticket_settings",
    "event_ticket_settings",
}
TICKETING_TYPES = {
    "ticket_issue_kind",
    "ticket_status",
    "ticket_transfer_status",
    "ticket_scan_outcome",
}
ORDERS_TABLES = {
    "ticket_order",
    "order_line",
    "order_transition",
    "payment",
    "refund",
    "refund_item",
    "ledger_transaction",
    "ledger_entry",
    "event_question",
    "provider_balance_transaction",
    "provider_payout",
}
ORDERS_TYPES = {
    "order_status",
    "payment_status",
    "refund_status",
    "refund_origin",
    "ledger_kind",
    "question_kind",
}
STRIPE_TABLES = {"stripe_event", "stripe_account"}
STRIPE_TYPES = {"stripe_account_kind"}
PROMOTIONS_TABLES = {"promo_code", "promo_redemption"}
PROMOTIONS_TYPES = {"promo_redemption_status"}
TAXES_TABLES = {"tax_rule", "tax_settings"}
EMAIL_TABLES = {"sent_email"}
WEBHOOKS_TABLES = {"webhook_endpoint", "webhook_delivery", "webhook_attempt"}
MARKETPLACE_TABLES = {
    "marketplace_publisher",
    "marketplace_publisher_key",
    "marketplace_listing",
    "marketplace_version",
    "marketplace_screenshot",
    "marketplace_installation",
}
TAXES_TYPES = {"tax_basis", "tax_business_treatment", "tax_rounding"}
EVENTS_TYPES = {
    "event_status",
    "event_kind",
    "ticket_visibility",
    "inventory_pool_kind",
    "inventory_hold_status",
}


@pytest.fixture
async def empty_database() -> AsyncIterator[str]:
    url = await create_database("ticketing_migrations")
    yield url
    await drop_database(url)


async def _tables_and_types(url: str) -> tuple[set[str], set[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            tables = set(
                (
                    await connection.scalars(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                    )
                ).all()
            )
            types = set(
                (
                    await connection.scalars(
                        text(
                            "SELECT t.typname FROM pg_type t"
                            " JOIN pg_namespace n ON n.oid = t.typnamespace"
                            " WHERE n.nspname = 'public' AND t.typtype = 'e'"
                        )
                    )
                ).all()
            )
    finally:
        await engine.dispose()
    return tables - {"alembic_version"}, types


async def test_upgrade_downgrade_upgrade(empty_database: str, plugins: KernelPluginManager) -> None:
    await asyncio.to_thread(migrate.upgrade, empty_database, plugins)
    tables, types = await _tables_and_types(empty_database)
    assert (
        tables
        == KERNEL_TABLES
        | ANALYTICS_TABLES
        | IDENTITY_TABLES
        | EVENTS_TABLES
        | TICKETING_TABLES
        | ORDERS_TABLES
        | STRIPE_TABLES
        | PROMOTIONS_TABLES
        | TAXES_TABLES
        | EMAIL_TABLES
        | MARKETPLACE_TABLES
        | WEBHOOKS_TABLES
    )
    assert types == (
        EVENTS_TYPES
        | TICKETING_TYPES
        | ORDERS_TYPES
        | STRIPE_TYPES
        | PROMOTIONS_TYPES
        | TAXES_TYPES
        | IDENTITY_TYPES
    )

    await asyncio.to_thread(migrate.downgrade, empty_database, plugins, "base")
    assert await _tables_and_types(empty_database) == (set(), set())

    await asyncio.to_thread(migrate.upgrade, empty_database, plugins)
    tables, _ = await _tables_and_types(empty_database)
    assert (
        tables
        == KERNEL_TABLES
        | ANALYTICS_TABLES
        | IDENTITY_TABLES
        | EVENTS_TABLES
        | TICKETING_TABLES
        | ORDERS_TABLES
        | STRIPE_TABLES
        | PROMOTIONS_TABLES
        | TAXES_TABLES
        | EMAIL_TABLES
        | MARKETPLACE_TABLES
        | WEBHOOKS_TABLES
    )


async def test_one_plugin_branch_downgrades_alone(
    empty_database: str, plugins: KernelPluginManager
) -> None:
    await asyncio.to_thread(migrate.upgrade, empty_database, plugins)
    # The Stripe branch depends on orders: taking orders away takes it with it.
    await asyncio.to_thread(migrate.downgrade, empty_database, plugins, "orders@base")
    tables, _ = await _tables_and_types(empty_database)
    assert not tables & (ORDERS_TABLES | STRIPE_TABLES)
    await asyncio.to_thread(migrate.downgrade, empty_database, plugins, "ticketing@base")
    tables, types = await _tables_and_types(empty_database)
    # promotions and taxes depend on events only (promotions' order ids are plain uuids)
    assert tables == (
        KERNEL_TABLES
        | ANALYTICS_TABLES
        | IDENTITY_TABLES
        | EVENTS_TABLES
        | PROMOTIONS_TABLES
        | TAXES_TABLES
        | EMAIL_TABLES
        | MARKETPLACE_TABLES
        | WEBHOOKS_TABLES
    )
    assert types == EVENTS_TYPES | PROMOTIONS_TYPES | TAXES_TYPES | IDENTITY_TYPES

    # Ticketing depends on identity: taking identity away takes ticketing with it.
    await asyncio.to_thread(migrate.upgrade, empty_database, plugins)
    await asyncio.to_thread(migrate.downgrade, empty_database, plugins, "identity@base")
    tables, types = await _tables_and_types(empty_database)
    assert tables == (
        KERNEL_TABLES
        | ANALYTICS_TABLES
        | EVENTS_TABLES
        | PROMOTIONS_TABLES
        | TAXES_TABLES
        | EMAIL_TABLES
        | MARKETPLACE_TABLES
        | WEBHOOKS_TABLES
    )
    assert types == EVENTS_TYPES | PROMOTIONS_TYPES | TAXES_TYPES


def test_each_owner_has_its_own_head(plugins: KernelPluginManager) -> None:
    heads = migrate.heads("postgresql://unused/unused", plugins)
    assert sorted(heads) == [
        "analytics_0003",
        "email_0001",
        "events_0005",
        "identity_0003",
        "k0008",
        "marketplace_0001",
        "orders_0004",
        "payments_stripe_0002",
        "promotions_0001",
        "taxes_0001",
        "ticketing_0001",
        "webhooks_0001",
    ]


async def test_migrations_match_the_models(database_url: str, plugins: KernelPluginManager) -> None:
    """A model changed without a migration (or the reverse) fails here."""
    import_models(plugins)
    engine = create_async_engine(database_url)

    def diff(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []


async def test_an_audit_log_the_identity_branch_created_is_adopted_with_its_entries(
    empty_database: str, plugins: KernelPluginManager
) -> None:
    """A database migrated before k0003 has the identity branch's audit_entry, whose actor
    points at identity's users; the kernel keeps the table and its rows, minus that key."""
    await asyncio.to_thread(migrate.upgrade, empty_database, plugins)
    await asyncio.to_thread(migrate.downgrade, empty_database, plugins, "k0002")
    engine = create_async_engine(empty_database)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "CREATE TABLE audit_entry (id uuid PRIMARY KEY,"
                    " organization_id uuid REFERENCES organization (id) ON DELETE CASCADE,"
                    " actor_user_id uuid CONSTRAINT fk_audit_entry_actor_user_id_user_account"
                    " REFERENCES user_account (id) ON DELETE SET NULL,"
                    " action varchar(100) NOT NULL, target_type varchar(64),"
                    " target_id varchar(128), ip varchar(64), user_agent varchar(512),"
                    " request_id varchar(128), details jsonb NOT NULL,"
                    " created_at timestamptz NOT NULL DEFAULT now())"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO audit_entry (id, action, details)"
                    " VALUES (gen_random_uuid(), 'event.published', '{}')"
                )
            )

        await asyncio.to_thread(migrate.upgrade, empty_database, plugins)

        async with engine.connect() as connection:
            actions = (await connection.scalars(text("SELECT action FROM audit_entry"))).all()
            foreign_keys = (
                await connection.scalars(
                    text(
                        "SELECT conname FROM pg_constraint"
                        " WHERE conrelid = 'audit_entry'::regclass AND contype = 'f'"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    assert actions == ["event.published"]
    assert foreign_keys == ["audit_entry_organization_id_fkey"]
