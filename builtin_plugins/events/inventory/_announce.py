"""Telling watchers: new availability is published after the commit, coalesced per
event."""

from __future__ import annotations

import logging
import uuid
from functools import partial

from builtin_plugins.events.availability_feed import availability_channel, publish_availability
from builtin_plugins.events.inventory._availability import public_availability
from sdk import Kernel
from sdk.live import coalescer

logger = logging.getLogger(__name__)


# Changes to one event within this window share one announcement (per API process).
ANNOUNCE_DELAY_SECONDS = 0.05
_ANNOUNCER_SERVICE = "events.availability-announcer"


async def publish_availability_now(
    kernel: Kernel, *, event_id: uuid.UUID, event_date_id: uuid.UUID | None = None
) -> None:
    """Read the availability of the event's public ticket types and publish it now, when
    someone watches the event. Never raises."""
    try:
        if not await kernel.pubsub.is_watched(availability_channel(event_id)):
            return  # nobody watches: skip the read
        async with kernel.database.transaction() as session:
            numbers = await public_availability(
                session, event_id=event_id, event_date_id=event_date_id
            )
        await publish_availability(
            kernel,
            event_id=event_id,
            availability={t: a.available for t, a in numbers.items()},
            event_date_id=event_date_id,
        )
    except Exception:
        logger.exception("publishing availability failed", extra={"event_id": str(event_id)})


async def announce_availability(
    kernel: Kernel, *, event_id: uuid.UUID, event_date_id: uuid.UUID | None = None
) -> None:
    """Have the new availability of the event published to live subscribers, shortly.

    Call it *after* the transaction that placed, released, converted or sold committed.
    Returns at once: the read and publish happen in the background, coalesced with other
    changes to the event and date made within ``ANNOUNCE_DELAY_SECONDS`` (see
    :func:`publish_availability_now` to publish synchronously). Never raises.
    """
    announcer = coalescer(
        kernel, _ANNOUNCER_SERVICE, partial(_publish_key, kernel), ANNOUNCE_DELAY_SECONDS
    )
    announcer.request((event_id, event_date_id))


async def _publish_key(kernel: Kernel, key: tuple[uuid.UUID, uuid.UUID | None]) -> None:
    await publish_availability_now(kernel, event_id=key[0], event_date_id=key[1])
