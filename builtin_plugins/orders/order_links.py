"""Signed links to an order, for the buyer's emails.

A link token is a JWT (HS256, pyjwt) whose subject is the order id, for the audience
``ticketing:order-link``, signed with ``TICKETING_ORDER_LINK_SECRET``. It opens its order
like the access token checkout answered (which is shown once and stored only hashed, so
it cannot be emailed later), until it expires: ``TICKETING_ORDER_LINK_DAYS`` after the
event ends, and never sooner than that many days from when it was minted. A tampered
token or another order's opens nothing; an expired one is refused with 401
``order-link-expired``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import jwt

from builtin_plugins.orders.settings import OrderSettings
from sdk import Unauthorized
from sdk.clock import utcnow
from sdk.http import MAX_ORDER_TOKEN_LENGTH
from sdk.secrets import local_secret, random_secret

if TYPE_CHECKING:
    from sdk import Kernel

AUDIENCE = "ticketing:order-link"
ALGORITHM = "HS256"
SERVICE_KEY = "orders.links"
SECRET_NAME = "TICKETING_ORDER_LINK_SECRET"


class LinkExpired(Unauthorized):
    code, title = "order-link-expired", "The link has expired"


def looks_like_link(token: str) -> bool:
    """Link tokens are JWTs (three dot-separated parts); access tokens have no dot."""
    return token.count(".") == 2


@dataclass(frozen=True, slots=True)
class OrderLinks:
    secret: str
    days: int

    def mint(
        self, order_id: uuid.UUID, *, event_ends_at: datetime, now: datetime | None = None
    ) -> tuple[str, datetime]:
        """A token opening the order, and when it expires (whole seconds)."""
        now = now or utcnow()
        expires = int((max(now, event_ends_at) + timedelta(days=self.days)).timestamp())
        claims = {
            "sub": str(order_id),
            "aud": AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": expires,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM), datetime.fromtimestamp(
            expires, UTC
        )

    def order_of(self, token: str) -> uuid.UUID | None:
        """The order a genuine, unexpired link token opens; ``None`` for anything else.

        :raises LinkExpired: for a token this platform signed whose time is up.
        """
        if len(token) > MAX_ORDER_TOKEN_LENGTH:
            return None
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["exp", "iat", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:  # raised only once the signature held
            raise LinkExpired("This order link has expired.") from exc
        except jwt.PyJWTError:
            return None
        try:
            return uuid.UUID(str(claims["sub"]))
        except ValueError:
            return None


def order_links(kernel: Kernel) -> OrderLinks:
    """The kernel's link signer, built on first use from the settings."""
    service = kernel.services.get(SERVICE_KEY)
    if service is None:
        settings = OrderSettings()
        secret = settings.link_secret or local_secret(
            kernel.settings.data_dir,
            SECRET_NAME,
            environment=kernel.settings.environment,
            generate=random_secret,
        )
        service = kernel.services[SERVICE_KEY] = OrderLinks(secret, settings.link_days)
    assert isinstance(service, OrderLinks)
    return service
