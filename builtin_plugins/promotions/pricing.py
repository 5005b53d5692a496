"""The promotions plugin's pricing answers: the discount of a line, the types a code unlocks.

Both read the code only when the buyer gave one, so buying without a code costs nothing.
"""

from __future__ import annotations

import uuid

from builtin_plugins.promotions import lookup
from builtin_plugins.promotions.discount import PromoDiscount
from sdk import PricingContext
from sdk.clock import utcnow
from sdk.db import Database


async def adjusters_for(
    reader: Database, context: PricingContext, *, max_percent: int | None = None
) -> list[PromoDiscount]:
    """The code's discount when ``context.promo_code`` names an active code of the
    organization, valid for the event at ``context.at`` and applying to the ticket type;
    never more than ``max_percent`` % of the price (the organization's cap), if given."""
    if not context.promo_code:
        return []
    terms = await lookup.find(
        reader, organization_id=context.organization_id, code=context.promo_code
    )
    if (
        terms is None
        or not terms.valid_for(context.event_id, context.at)
        or not terms.applies_to(context.ticket_type_id)
    ):
        return []
    return [PromoDiscount(terms, max_percent=max_percent)]


async def unlocked_by(
    reader: Database, organization_id: uuid.UUID, event_id: uuid.UUID, promo_code: str
) -> list[uuid.UUID] | None:
    """The ``promo`` ticket types a code valid now for the event reveals."""
    terms = await lookup.find(reader, organization_id=organization_id, code=promo_code)
    if terms is None or not terms.valid_for(event_id, utcnow()):
        return None
    return sorted(terms.unlocks_ticket_type_ids)
