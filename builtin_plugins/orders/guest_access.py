"""Who may open an order without signing in, and what the other plugins are told of it.

An order opens to its signed-in buyer, to the access token checkout answered (stored
hashed), and to a link token minted for it (:mod:`.order_links`). The answers of the
guest-access hooks (``ticketing_order_access``, ``ticketing_order_link``) are
:class:`~kernel.contracts.OrderAccess` values, so the ticketing and notification plugins
never read the orders' tables; the order's tickets come back from the ticketing plugin
through ``ticketing_order_tickets``.
"""

from __future__ import annotations

import hmac
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import Event
from builtin_plugins.orders.checkout import hash_access_token
from builtin_plugins.orders.models import Order
from builtin_plugins.orders.order_links import OrderLinks, looks_like_link
from sdk import Kernel, OrderAccess, OrderLink, OrderTickets, Principal
from sdk.http import API_PREFIX


def opens(order: Order, principal: Principal | None, token: str | None, links: OrderLinks) -> bool:
    """Whether the caller may see ``order``: its signed-in buyer, or its access or link
    token (checked with the kernel's ``links``). :raises order_links.LinkExpired: for a
    genuine link whose time is up."""
    if principal is not None and principal.user_id is not None:
        if order.buyer_user_id == principal.user_id:
            return True
    if not token:
        return False
    if looks_like_link(token):
        return links.order_of(token) == order.id
    return hmac.compare_digest(hash_access_token(token), order.access_token_hash)


def _snapshot(order: Order, event: Event) -> OrderAccess:
    return OrderAccess(
        order_id=order.id,
        code=order.code,
        organization_id=order.organization_id,
        event_id=order.event_id,
        event_title=event.title,
        event_timezone=event.timezone,
        status=order.status.value,
        buyer_name=order.buyer_name,
        buyer_email=order.buyer_email,
        paid_at=order.paid_at,
    )


async def _event(session: AsyncSession, order: Order) -> Event:
    event = await session.get(Event, order.event_id)
    assert event is not None  # events are never deleted while they have orders
    return event


async def access(
    session: AsyncSession,
    order_id: uuid.UUID,
    *,
    token: str | None,
    principal: Principal | None,
    links: OrderLinks,
) -> OrderAccess | None:
    """The order if the credential opens it, else ``None`` (the caller answers 404)."""
    order = await session.get(Order, order_id)
    if order is None or not opens(order, principal, token, links):
        return None
    return _snapshot(order, await _event(session, order))


async def link(session: AsyncSession, order_id: uuid.UUID, links: OrderLinks) -> OrderLink | None:
    """A fresh link token for the order's buyer (``None``: no such order)."""
    order = await session.get(Order, order_id)
    if order is None:
        return None
    event = await _event(session, order)
    token, expires_at = links.mint(order.id, event_ends_at=event.ends_at)
    return OrderLink(
        order=_snapshot(order, event),
        token=token,
        expires_at=expires_at,
        path=f"{API_PREFIX}/orders/{order.id}",
    )


async def tickets_of(kernel: Kernel, session: AsyncSession, order: Order) -> OrderTickets | None:
    """The tickets of a paid order, from the ticketing plugin (``None`` before payment)."""
    if order.paid_at is None:
        return None
    snapshot = _snapshot(order, await _event(session, order))
    return await kernel.hooks.call(
        "ticketing_order_tickets",
        organization_id=order.organization_id,
        order=snapshot,
        session=session,
        with_pdf=False,
    )
