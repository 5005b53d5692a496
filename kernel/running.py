"""The kernel serving the running event loop, for hooks that are not handed it.

Some hooks get plain values and no kernel -- pricing and tax get a line, a payment
provider a request, an outbox handler an event and a session -- yet the plugin
answering them needs the kernel's pools, plugins or services. The app binds its kernel
to the event loop it serves on for as long as it runs (:func:`bound`); such code finds
it with :func:`running_kernel`. A production process serves one kernel on one loop; a
test process may run several apps, each on its own loop, and several kernels on one
loop (the latest bound is the running one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kernel.context import Kernel


class KernelNotRunning(RuntimeError):
    """Code that needs the running kernel ran on a loop where no kernel is bound."""


_bound: dict[asyncio.AbstractEventLoop, list[Kernel]] = {}


@contextmanager
def bound(kernel: Kernel) -> Iterator[Kernel]:
    """``kernel`` is the running kernel of this loop inside the block."""
    kernels = _bound.setdefault(asyncio.get_running_loop(), [])
    kernels.append(kernel)
    try:
        yield kernel
    finally:
        kernels.remove(kernel)
        if not kernels:
            _bound.pop(asyncio.get_running_loop(), None)


def running_kernel() -> Kernel:
    kernels = _bound.get(asyncio.get_running_loop())
    if not kernels:
        raise KernelNotRunning("a kernel was not started on this event loop")
    return kernels[-1]


def running_kernels() -> list[Kernel]:
    """Every kernel bound in this process, on any loop (to drop a cached value
    everywhere after a write)."""
    return [kernel for kernels in list(_bound.values()) for kernel in list(kernels)]
