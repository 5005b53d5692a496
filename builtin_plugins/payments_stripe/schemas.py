"""Request and response bodies of an organization's Stripe settings.

Keys are checked for shape only (Stripe's prefixes, one mode for both keys); a key that
is well formed but wrong shows at the first payment. No answer ever carries a secret:
the secret key shows as its prefix and last four characters.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

# Stripe's ids and keys are ASCII letters and digits after their prefix.
SECRET_KEY_PATTERN = r"^(sk|rk)_(test|live)_[A-Za-z0-9]{8,240}$"
PUBLISHABLE_KEY_PATTERN = r"^pk_(test|live)_[A-Za-z0-9]{8,240}$"
WEBHOOK_SECRET_PATTERN = r"^whsec_[A-Za-z0-9]{8,240}$"
ACCOUNT_ID_PATTERN = r"^acct_[A-Za-z0-9]{8,64}$"

PLATFORM, OWN, CONNECTED = "platform", "own", "connected"


def key_mode(key: str) -> str:
    """``test`` or ``live``, from a key's second part (``sk_test_...``)."""
    return key.split("_", 2)[1]


def key_hint(key: str) -> str:
    """What may be shown of a secret key: ``sk_test_…1234``."""
    prefix = key.rsplit("_", 1)[0] if key.count("_") >= 2 else key[:3]
    return f"{prefix}_…{key[-4:]}"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OwnAccountIn(_Body):
    """The organization's own Stripe account: keys from its Stripe dashboard.
    ``secret_key`` and ``publishable_key`` are both test keys or both live keys."""

    kind: Literal["own"]
    secret_key: SecretStr = Field(
        description="sk_live_/sk_test_ (or a restricted rk_ key with PaymentIntents and "
        "Refunds write access); stored encrypted, never shown again"
    )
    publishable_key: Annotated[str, Field(pattern=PUBLISHABLE_KEY_PATTERN)]
    webhook_secret: SecretStr = Field(
        description="whsec_..., the signing secret of the webhook endpoint created in "
        "Stripe for this organization's webhook URL; stored encrypted"
    )

    @model_validator(mode="after")
    def _well_formed(self) -> OwnAccountIn:
        secret = self.secret_key.get_secret_value()
        if not re.fullmatch(SECRET_KEY_PATTERN, secret):
            raise ValueError("secret_key must be a Stripe secret key (sk_live_, sk_test_ or rk_)")
        if not re.fullmatch(WEBHOOK_SECRET_PATTERN, self.webhook_secret.get_secret_value()):
            raise ValueError("webhook_secret must be a Stripe signing secret (whsec_...)")
        if key_mode(secret) != key_mode(self.publishable_key):
            raise ValueError("secret_key and publishable_key must both be test or both live")
        return self


class ConnectedAccountIn(_Body):
    """A connected account of the platform (Stripe Connect): paid with the platform's
    key on behalf of ``account_id``."""

    kind: Literal["connected"]
    account_id: Annotated[
        str, Field(pattern=ACCOUNT_ID_PATTERN, examples=["acct_1032D82eZvKYlo2C"])
    ]


StripeAccountIn = Annotated[OwnAccountIn | ConnectedAccountIn, Field(discriminator="kind")]


class StripeAccountOut(BaseModel):
    kind: Literal["platform", "own", "connected"] = Field(
        description="platform: the platform's account takes the payments (no settings)"
    )
    mode: Literal["test", "live"] | None = Field(None, description="own keys only")
    secret_key: str | None = Field(None, description="only its prefix and last four")
    publishable_key: str | None = None
    account_id: str | None = Field(None, description="the connected account (acct_...)")
    webhook_url: str | None = Field(
        None, description="own keys: where to point the organization's Stripe webhook"
    )
    organization_id: uuid.UUID
    updated_at: datetime | None = None
