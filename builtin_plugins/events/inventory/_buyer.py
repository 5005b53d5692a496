"""Whose cart a request is: the hold owner of a signed-in user, else of a cart token."""

from __future__ import annotations

import uuid

from fastapi import Request

from builtin_plugins.events.inventory._common import owner_for
from sdk import UnprocessableContent
from sdk.http import authenticate


async def cart_owner(request: Request, cart_token: str | None) -> tuple[str, uuid.UUID | None]:
    """(hold owner, user id) of the caller: a signed-in user's cart, else the cart token's
    (422 ``owner-required`` when there is neither)."""
    principal = await authenticate(request)
    if principal is not None and principal.user_id is not None:
        return owner_for(user_id=principal.user_id), principal.user_id
    if not cart_token:
        raise UnprocessableContent(
            "Send a cart_token (or sign in) to say whose hold this is.", code="owner-required"
        )
    return owner_for(cart_token=cart_token), None
