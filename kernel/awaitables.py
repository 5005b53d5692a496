"""One async convention for hooks: an implementation may return a value or an awaitable."""

import inspect
from collections.abc import Iterable
from typing import Any


async def await_me_maybe(value: Any) -> Any:
    """Resolve ``value`` if a hook implementation returned an awaitable, else return it."""
    if inspect.isawaitable(value):
        return await value
    return value


async def await_all(values: Iterable[Any]) -> list[Any]:
    """Resolve every result of a non-firstresult hook, in hook call order."""
    return [await await_me_maybe(value) for value in values]


async def first_result(caller: Any, **kwargs: Any) -> Any:
    """Call a ``firstresult`` hook honouring async implementations.

    pluggy would stop at the first implementation that returns a coroutine, even one
    that resolves to ``None``; this awaits each answer before deciding, in pluggy's call
    order (``tryfirst`` first, then last registered first). ``caller`` may be a
    per-organization subset caller.
    """
    for impl in reversed(caller.get_hookimpls()):
        if impl.hookwrapper or impl.wrapper:
            continue
        result = await await_me_maybe(
            impl.function(**{name: kwargs[name] for name in impl.argnames})
        )
        if result is not None:
            return result
    return None
