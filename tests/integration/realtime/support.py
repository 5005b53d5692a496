"""Waiting helpers: every wait has a deadline, and nothing is asserted by sleeping."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

WAIT_SECONDS = 10


async def next_message(messages, timeout: float = WAIT_SECONDS) -> bytes:
    async with asyncio.timeout(timeout):
        return await anext(messages)


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], timeout: float = WAIT_SECONDS
) -> None:
    """Poll ``check`` (plain or async) until it answers True; fail after ``timeout`` s."""
    async with asyncio.timeout(timeout):
        while True:
            answer = check()
            if inspect.isawaitable(answer):
                answer = await answer
            if answer:
                return
            await asyncio.sleep(0.02)
