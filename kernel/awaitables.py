"""One async convention for hooks: an implementation may return a value or an awaitable."""

import inspect
from typing import Any


async def await_me_maybe(value: Any) -> Any:
    """Resolve ``value`` if a hook implementation returned an awaitable, else return it."""
    if inspect.isawaitable(value):
        return await value
    return value
