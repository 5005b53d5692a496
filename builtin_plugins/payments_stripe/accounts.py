"""Which Stripe account takes an organization's payments, and with which keys.

* No ``stripe_account`` row: the platform's account (``STRIPE_SECRET_KEY``).
* ``own``: the organization's account; its secret key and webhook signing secret are
  sealed with the kernel's :class:`~kernel.crypto.Encryptor`, bound to the organization
  (``stripe:<organization id>:<field>``) so a ciphertext moved to another row or field
  does not open.
* ``connected``: a connected account of the platform; calls use the platform's key and
  the ``Stripe-Account`` header.

The payment provider has no session: it uses the :class:`StripeAccounts` of the kernel
its context names (:func:`of`), kept in ``kernel.services``.
Reads are cached for :data:`CACHE_SECONDS`; a write in this process forgets the
organization at once and again after its commit, other processes see it within the TTL.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.payments_stripe.models import StripeAccount, StripeAccountKind
from builtin_plugins.payments_stripe.schemas import (
    CONNECTED,
    OWN,
    PLATFORM,
    key_hint,
    key_mode,
)
from sdk import Conflict, Kernel
from sdk.crypto import Encryptor
from sdk.db import Database

logger = logging.getLogger(__name__)

CACHE_SECONDS = 30.0
SERVICE_KEY = "payments-stripe"
_FIELDS = (
    "connected_account_id",
    "secret_key",
    "secret_key_hint",
    "publishable_key",
    "webhook_secret",
    "livemode",
)


class AccountInUse(Conflict):
    code, title = "stripe-account-in-use", "Stripe account in use"


@dataclass(frozen=True, slots=True)
class Account:
    """One organization's Stripe account, decrypted: what a call to Stripe needs."""

    organization_id: uuid.UUID
    kind: str  # platform, own, connected
    secret_key: str | None = field(default=None, repr=False)  # own only
    publishable_key: str | None = None  # own only
    connected_account_id: str | None = None  # connected only
    webhook_secret: str | None = field(default=None, repr=False)  # own only


def _aad(organization_id: uuid.UUID, field_name: str) -> str:
    return f"stripe:{organization_id}:{field_name}"


def _open(encryptor: Encryptor, row: StripeAccount) -> Account:
    if row.kind is StripeAccountKind.CONNECTED:
        return Account(
            row.organization_id, CONNECTED, connected_account_id=row.connected_account_id
        )
    assert row.secret_key is not None and row.webhook_secret is not None
    return Account(
        row.organization_id,
        OWN,
        secret_key=encryptor.decrypt(
            row.secret_key, aad=_aad(row.organization_id, "secret_key")
        ).decode(),
        publishable_key=row.publishable_key,
        webhook_secret=encryptor.decrypt(
            row.webhook_secret, aad=_aad(row.organization_id, "webhook_secret")
        ).decode(),
    )


async def row(session: AsyncSession, organization_id: uuid.UUID) -> StripeAccount | None:
    return await session.get(StripeAccount, organization_id)


async def load(session: AsyncSession, encryptor: Encryptor, organization_id: uuid.UUID) -> Account:
    """The organization's account, read now (no cache)."""
    found = await row(session, organization_id)
    return Account(organization_id, PLATFORM) if found is None else _open(encryptor, found)


async def _upsert(session: AsyncSession, values: dict[str, Any]) -> StripeAccount:
    """Insert or replace the organization's row (every field not given is cleared)."""
    values = {**dict.fromkeys(_FIELDS), **values}
    changes = {k: v for k, v in values.items() if k != "organization_id"}
    await session.execute(
        insert(StripeAccount)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[StripeAccount.organization_id],
            set_={**changes, "updated_at": func.now()},
        )
    )
    saved = await session.scalar(
        select(StripeAccount)
        .where(StripeAccount.organization_id == values["organization_id"])
        .execution_options(populate_existing=True)
    )
    assert saved is not None
    return saved


async def save_own(
    session: AsyncSession,
    encryptor: Encryptor,
    organization_id: uuid.UUID,
    *,
    secret_key: str,
    publishable_key: str,
    webhook_secret: str,
) -> StripeAccount:
    """Take the organization's payments on its own account from now on."""
    return await _upsert(
        session,
        {
            "organization_id": organization_id,
            "kind": StripeAccountKind.OWN,
            "secret_key": encryptor.encrypt(
                secret_key.encode(), aad=_aad(organization_id, "secret_key")
            ),
            "secret_key_hint": key_hint(secret_key),
            "publishable_key": publishable_key,
            "webhook_secret": encryptor.encrypt(
                webhook_secret.encode(), aad=_aad(organization_id, "webhook_secret")
            ),
            "livemode": key_mode(secret_key) == "live",
        },
    )


async def save_connected(
    session: AsyncSession, organization_id: uuid.UUID, account_id: str
) -> StripeAccount:
    """Take the organization's payments on a connected account of the platform. 409
    ``stripe-account-in-use`` when another organization has it: a Connect event must
    name one organization (the unique constraint settles a race the same way)."""
    holder = await session.scalar(
        select(StripeAccount.organization_id).where(
            StripeAccount.connected_account_id == account_id,
            StripeAccount.organization_id != organization_id,
        )
    )
    if holder is not None:
        raise AccountInUse(f"The Stripe account {account_id} is another organization's.")
    return await _upsert(
        session,
        {
            "organization_id": organization_id,
            "kind": StripeAccountKind.CONNECTED,
            "connected_account_id": account_id,
        },
    )


async def remove(session: AsyncSession, organization_id: uuid.UUID) -> StripeAccount | None:
    """Back to the platform's account; the removed row (``None`` when there was none)."""
    found = await session.scalar(
        select(StripeAccount)
        .where(StripeAccount.organization_id == organization_id)
        .with_for_update()
    )
    if found is not None:
        await session.delete(found)
        await session.flush()
    return found


class StripeAccounts:
    """This process's reader of organizations' accounts, with a short in-process cache.

    It reads through ``kernel.lookups``: a payment is created inside checkout's
    transaction, which already holds a connection of the main pool."""

    def __init__(
        self,
        database: Database,
        encryptor: Encryptor,
        *,
        hooks: Any = None,
        ttl: float = CACHE_SECONDS,
        clock: Any = time.monotonic,
    ) -> None:
        self.database = database
        self.encryptor = encryptor
        self.hooks = hooks  # the kernel's hook caller (kernel.hooks)
        self.ttl = ttl
        self._clock = clock
        self._cache: dict[uuid.UUID, tuple[float, Account]] = {}

    async def for_organization(self, organization_id: uuid.UUID) -> Account:
        cached = self._cache.get(organization_id)
        now = self._clock()
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self.database.transaction() as session:
            account = await load(session, self.encryptor, organization_id)
        self._cache[organization_id] = (now + self.ttl, account)
        return account

    def forget(self, organization_id: uuid.UUID) -> None:
        self._cache.pop(organization_id, None)


def of(kernel: Kernel) -> StripeAccounts:
    """The kernel's accounts service (made on first use)."""
    service = kernel.services.get(SERVICE_KEY)
    if service is None:
        service = kernel.services[SERVICE_KEY] = StripeAccounts(
            kernel.lookups, kernel.encryptor, hooks=kernel.hooks
        )
    return service
