"""Storing tax rules and settings, always within one organization.

A rule of another organization is simply not found (404). A rule may only point at the
organization's own event and ticket types (422 otherwise), and its ticket types must
belong to its event when it names one. Creating a rule locks the organization's settings
row first, so the :data:`MAX_RULES` limit holds under concurrent creates.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import event_summary, ticket_type_summaries
from builtin_plugins.taxes.models import Rounding, TaxRule, TaxSettings
from builtin_plugins.taxes.rules import Rule
from sdk import NotFound, UnprocessableContent

MAX_RULES = 200  # per organization: every priced line looks at all of them
DEFAULT_ROUNDING = Rounding.HALF_EVEN


class UnknownEvent(UnprocessableContent):
    code, title = "unknown-event", "No such event in this organization"


class UnknownTicketType(UnprocessableContent):
    code, title = "unknown-ticket-type", "No such ticket type in this organization"


class InvalidTaxRule(UnprocessableContent):
    code, title = "invalid-tax-rule", "Invalid tax rule"


class TooManyTaxRules(UnprocessableContent):
    code, title = "too-many-tax-rules", "Too many tax rules"


@dataclass(frozen=True, slots=True)
class OrganizationTaxes:
    """What the tax hook needs of an organization: its active rules and rounding mode."""

    rules: tuple[Rule, ...]
    rounding: Rounding


# -- reading ----------------------------------------------------------------------------


async def rounding_of(session: AsyncSession, organization_id: uuid.UUID) -> Rounding:
    found = await session.scalar(
        select(TaxSettings.rounding).where(TaxSettings.organization_id == organization_id)
    )
    return found or DEFAULT_ROUNDING


async def organization_taxes(
    session: AsyncSession, organization_id: uuid.UUID
) -> OrganizationTaxes:
    """The organization's active rules and rounding mode (one query without rules)."""
    rows = await session.scalars(
        select(TaxRule).where(TaxRule.organization_id == organization_id, TaxRule.active)
    )
    rules = tuple(Rule.of(row) for row in rows)
    if not rules:
        return OrganizationTaxes(rules=(), rounding=DEFAULT_ROUNDING)
    return OrganizationTaxes(rules=rules, rounding=await rounding_of(session, organization_id))


async def list_rules(session: AsyncSession, organization_id: uuid.UUID) -> Sequence[TaxRule]:
    """Oldest first (at most :data:`MAX_RULES`, so no pagination)."""
    return (
        await session.scalars(
            select(TaxRule)
            .where(TaxRule.organization_id == organization_id)
            .order_by(TaxRule.created_at, TaxRule.id)
        )
    ).all()


async def get_rule(
    session: AsyncSession, organization_id: uuid.UUID, rule_id: uuid.UUID, *, lock: bool = False
) -> TaxRule:
    query = select(TaxRule).where(TaxRule.id == rule_id, TaxRule.organization_id == organization_id)
    found = await session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFound(f"No tax rule {rule_id}.")
    return found


# -- scope checks -----------------------------------------------------------------------


async def check_scope(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    event_id: uuid.UUID | None,
    ticket_type_ids: Sequence[uuid.UUID],
) -> None:
    """422 unless the event and ticket types are the organization's (and the types the
    event's, when a rule names both)."""
    if event_id is not None:
        found = await event_summary(session, organization_id=organization_id, event_id=event_id)
        if found is None:
            raise UnknownEvent(f"No event {event_id} in this organization.", event_id=str(event_id))
    if not ticket_type_ids:
        return
    types = await ticket_type_summaries(session, ticket_type_ids, organization_id=organization_id)
    events = {type_id: summary.event_id for type_id, summary in types.items()}
    missing = [str(t) for t in ticket_type_ids if t not in events]
    if missing:
        raise UnknownTicketType(
            f"No ticket type {', '.join(missing)} in this organization.", ticket_type_ids=missing
        )
    if event_id is not None:
        elsewhere = [str(t) for t in ticket_type_ids if events[t] != event_id]
        if elsewhere:
            raise UnknownTicketType(
                f"Ticket type {', '.join(elsewhere)} is not one of event {event_id}.",
                ticket_type_ids=elsewhere,
            )


def check_place(country: str | None, region: str | None) -> None:
    if region is not None and country is None:
        raise InvalidTaxRule("A region needs a country: name the country it lies in.")


# -- writing ----------------------------------------------------------------------------


async def _locked_settings(session: AsyncSession, organization_id: uuid.UUID) -> TaxSettings:
    """The organization's settings row, created with the defaults if missing, locked."""
    await session.execute(
        insert(TaxSettings)
        .values(organization_id=organization_id, rounding=DEFAULT_ROUNDING)
        .on_conflict_do_nothing(index_elements=[TaxSettings.organization_id])
    )
    row = await session.scalar(
        select(TaxSettings)
        .where(TaxSettings.organization_id == organization_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def create_rule(
    session: AsyncSession, organization_id: uuid.UUID, values: Mapping[str, Any]
) -> TaxRule:
    check_place(values.get("country"), values.get("region"))
    await check_scope(
        session,
        organization_id,
        event_id=values.get("event_id"),
        ticket_type_ids=values.get("ticket_type_ids") or [],
    )
    await _locked_settings(session, organization_id)  # one create at a time per organization
    count = await session.scalar(
        select(func.count()).select_from(TaxRule).where(TaxRule.organization_id == organization_id)
    )
    if count >= MAX_RULES:
        raise TooManyTaxRules(
            f"An organization can have at most {MAX_RULES} tax rules; delete unused ones.",
            limit=MAX_RULES,
        )
    rule = TaxRule(organization_id=organization_id, **values)
    session.add(rule)
    await session.flush()
    await session.refresh(rule)  # the database's created_at / updated_at
    return rule


async def update_rule(
    session: AsyncSession,
    organization_id: uuid.UUID,
    rule_id: uuid.UUID,
    changes: Mapping[str, Any],
) -> tuple[TaxRule, dict[str, Any]]:
    """Apply the fields sent; returns the rule and what actually changed."""
    rule = await get_rule(session, organization_id, rule_id, lock=True)
    merged = {field: changes.get(field, getattr(rule, field)) for field in ("country", "region")}
    check_place(merged["country"], merged["region"])
    event_id = changes.get("event_id", rule.event_id)
    ticket_type_ids = changes.get("ticket_type_ids", rule.ticket_type_ids) or []
    if "event_id" in changes or "ticket_type_ids" in changes:
        await check_scope(
            session, organization_id, event_id=event_id, ticket_type_ids=ticket_type_ids
        )
    changed = {}
    for field, value in changes.items():
        if getattr(rule, field) != value:
            setattr(rule, field, value)
            changed[field] = value
    if changed:
        await session.flush()
        await session.refresh(rule)
    return rule, changed


async def delete_rule(
    session: AsyncSession, organization_id: uuid.UUID, rule_id: uuid.UUID
) -> TaxRule:
    rule = await get_rule(session, organization_id, rule_id, lock=True)
    await session.delete(rule)
    await session.flush()
    return rule


async def set_rounding(
    session: AsyncSession, organization_id: uuid.UUID, rounding: Rounding
) -> Rounding | None:
    """Set the rounding mode; returns the previous one if it changed, else ``None``."""
    row = await _locked_settings(session, organization_id)
    if row.rounding == rounding:
        return None
    previous, row.rounding = row.rounding, rounding
    await session.flush()
    return previous
