"""Organizers' tax rules and settings, and a preview of how a line would be taxed.

Everything needs ``taxes:manage`` in the path's organization; another organization's
rule is 404. Writes commit before this process's rule cache is invalidated (see
:mod:`builtin_plugins.taxes.cache`), and every write is in the audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.taxes import preview as previews
from builtin_plugins.taxes import runtime, service
from builtin_plugins.taxes.rules import Location
from builtin_plugins.taxes.schemas import (
    CountryCode,
    Region,
    TaxPreviewOut,
    TaxRuleCreate,
    TaxRuleOut,
    TaxRuleUpdate,
    TaxSettingsBody,
)
from builtin_plugins.taxes.tax_ids import normalize_tax_id
from sdk import Kernel, Principal, TaxableParty, UnprocessableContent, audit
from sdk.http import ItemList, KernelDep, SessionDep, requires

PREFIX = "/organizations/{organization_id}"
MANAGE = "taxes:manage"
MAX_AMOUNT = 10**12

Manager = Annotated[Principal, requires(MANAGE)]

router = APIRouter(prefix=PREFIX, tags=["taxes"])
routers = [router]


class InvalidTaxId(UnprocessableContent):
    code, title = "invalid-tax-id", "Not a well-formed tax id"


# -- preview (declared before /tax-rules/{rule_id}) -----------------------------------------


@router.get(
    "/tax-rules/preview",
    summary="Which rule would tax a line of this amount, and its net, tax and gross",
    description="`ticket_type_id` implies its event (and must be one of `event_id`'s when "
    "both are sent); `venue_country` and `venue_region` are only for a line without an "
    "event (an event's venue is its address).",
)
async def preview_tax(
    organization_id: uuid.UUID,
    principal: Manager,
    session: SessionDep,
    amount: Annotated[int, Query(ge=0, le=MAX_AMOUNT, description="The line's total, minor units")],
    currency: Annotated[
        str | None, Query(pattern=r"^[A-Z]{3}$", description="Default: the event's")
    ] = None,
    event_id: uuid.UUID | None = None,
    ticket_type_id: uuid.UUID | None = None,
    country: Annotated[CountryCode | None, Query(description="The buyer's country")] = None,
    region: Annotated[Region | None, Query(description="The buyer's region")] = None,
    tax_id: Annotated[
        str | None, Query(max_length=40, description="The buyer's business tax id")
    ] = None,
    venue_country: Annotated[
        CountryCode | None, Query(description="Without an event: the venue's country")
    ] = None,
    venue_region: Annotated[
        Region | None, Query(description="Without an event: the venue's region")
    ] = None,
) -> TaxPreviewOut:
    if tax_id and normalize_tax_id(tax_id) is None:
        raise InvalidTaxId(
            "A tax id is an optional two-letter country prefix and 4 to 20 letters or digits."
        )
    line, line_currency = await previews.resolve_line(
        session,
        organization_id,
        amount=amount,
        currency=currency,
        event_id=event_id,
        ticket_type_id=ticket_type_id,
        venue=Location(country=venue_country, region=venue_region),
        buyer=TaxableParty(country=country, region=region, tax_id=tax_id),
    )
    found = await previews.preview(session, organization_id, line, line_currency)
    tax = found.tax
    return TaxPreviewOut(
        amount=amount,
        currency=found.currency,
        rule=TaxRuleOut.of(found.rule) if found.rule is not None else None,
        net=tax.net,
        tax=tax.tax,
        gross=tax.gross,
        rate=tax.rate,
        inclusive=tax.inclusive,
        label=tax.label,
        note=tax.note,
    )


# -- rules ----------------------------------------------------------------------------------


@asynccontextmanager
async def _changing(kernel: Kernel, organization_id: uuid.UUID) -> AsyncIterator[AsyncSession]:
    """A write to the organization's rules or settings: its cached taxes are dropped after
    the transaction ends, committed or not (a load racing it is not kept either)."""
    try:
        async with kernel.database.transaction() as session:
            yield session
    finally:
        runtime.invalidate(kernel, organization_id)


@router.get("/tax-rules", summary="The organization's tax rules, oldest first")
async def list_tax_rules(
    organization_id: uuid.UUID, principal: Manager, session: SessionDep
) -> ItemList[TaxRuleOut]:
    found = await service.list_rules(session, organization_id)
    return ItemList(items=[TaxRuleOut.of(rule) for rule in found])


@router.post("/tax-rules", summary="Add a tax rule", status_code=201)
async def create_tax_rule(
    organization_id: uuid.UUID,
    body: TaxRuleCreate,
    principal: Manager,
    request: Request,
    kernel: KernelDep,
) -> TaxRuleOut:
    async with _changing(kernel, organization_id) as session:
        rule = await service.create_rule(session, organization_id, body.model_dump())
        await audit.record(
            session,
            action="tax_rule.created",
            actor_user_id=principal.user_id,
            organization_id=organization_id,
            request=request,
            target_type="tax_rule",
            target_id=rule.id,
            details=body.model_dump(),
        )
    return TaxRuleOut.of(rule)


@router.get("/tax-rules/{rule_id}", summary="One tax rule")
async def get_tax_rule(
    organization_id: uuid.UUID, rule_id: uuid.UUID, principal: Manager, session: SessionDep
) -> TaxRuleOut:
    return TaxRuleOut.of(await service.get_rule(session, organization_id, rule_id))


@router.patch("/tax-rules/{rule_id}", summary="Change a tax rule (only the fields sent)")
async def update_tax_rule(
    organization_id: uuid.UUID,
    rule_id: uuid.UUID,
    body: TaxRuleUpdate,
    principal: Manager,
    request: Request,
    kernel: KernelDep,
) -> TaxRuleOut:
    async with _changing(kernel, organization_id) as session:
        rule, changed = await service.update_rule(session, organization_id, rule_id, body.changes())
        if changed:
            await audit.record(
                session,
                action="tax_rule.updated",
                actor_user_id=principal.user_id,
                organization_id=organization_id,
                request=request,
                target_type="tax_rule",
                target_id=rule_id,
                details={"changes": changed},
            )
    return TaxRuleOut.of(rule)


@router.delete("/tax-rules/{rule_id}", summary="Delete a tax rule", status_code=204)
async def delete_tax_rule(
    organization_id: uuid.UUID,
    rule_id: uuid.UUID,
    principal: Manager,
    request: Request,
    kernel: KernelDep,
) -> Response:
    async with _changing(kernel, organization_id) as session:
        rule = await service.delete_rule(session, organization_id, rule_id)
        await audit.record(
            session,
            action="tax_rule.deleted",
            actor_user_id=principal.user_id,
            organization_id=organization_id,
            request=request,
            target_type="tax_rule",
            target_id=rule_id,
            details={"name": rule.name},
        )
    return Response(status_code=204)


# -- settings -------------------------------------------------------------------------------


@router.get("/tax-settings", summary="The organization's tax settings")
async def get_tax_settings(
    organization_id: uuid.UUID, principal: Manager, session: SessionDep
) -> TaxSettingsBody:
    return TaxSettingsBody(rounding=await service.rounding_of(session, organization_id))


@router.put("/tax-settings", summary="Replace the organization's tax settings")
async def put_tax_settings(
    organization_id: uuid.UUID,
    body: TaxSettingsBody,
    principal: Manager,
    request: Request,
    kernel: KernelDep,
) -> TaxSettingsBody:
    async with _changing(kernel, organization_id) as session:
        previous = await service.set_rounding(session, organization_id, body.rounding)
        if previous is not None:
            await audit.record(
                session,
                action="tax_settings.updated",
                actor_user_id=principal.user_id,
                organization_id=organization_id,
                request=request,
                target_type="tax_settings",
                target_id=organization_id,
                details={"rounding": {"from": previous, "to": body.rounding}},
            )
    return body
