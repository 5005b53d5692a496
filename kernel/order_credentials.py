"""How a buyer without an account shows an order's credential, declared once.

A guest presents either the access token checkout answered or the token of an emailed
order link, in the ``X-Order-Token`` header or as a link's ``?token=``. Every plugin
whose routes a guest reaches (the order, its tickets, their documents) takes the
credential through :data:`OrderCredential`, so the API documents and bounds it alike;
what it opens is the ``ticketing_order_access`` hook's answer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query

MAX_ORDER_TOKEN_LENGTH = 1000


async def order_credential(
    order_token: Annotated[
        str | None,
        Header(
            alias="X-Order-Token",
            max_length=MAX_ORDER_TOKEN_LENGTH,
            description="The access token checkout answered, or an order link's token "
            "(for a buyer who is not signed in)",
        ),
    ] = None,
    token: Annotated[
        str | None,
        Query(
            max_length=MAX_ORDER_TOKEN_LENGTH,
            description="The token of an order link (as emailed with the tickets)",
        ),
    ] = None,
) -> str | None:
    """The header's token, else the link's; ``None`` when the request carries neither."""
    return order_token or token


OrderCredential = Annotated[str | None, Depends(order_credential)]
