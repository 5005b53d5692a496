"""One async convention for hooks: an implementation may return a value or an awaitable."""

import inspect
from typing import Any


async def await_me_maybe(value: Any) -> Any:
    """Resolve ``value`` if a hook implementation returned an awaitable, else return it."""
    if inspect.isawaitable(value):
        return await value
    return value


async def first_result(caller: Any, **kwargs: Any) -> Any:
    """Call a ``firstresult`` hook honouring async implementations, for every plugin.

    Superseded by :meth:`kernel.hooks.Hooks.call` (which asks only an organization's
    enabled plugins, under one failure policy); kept while a caller remains.
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
