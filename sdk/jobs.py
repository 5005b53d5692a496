"""Background jobs.

A plugin answers ``ticketing_jobs`` with :class:`Job` values: periodic ones (``every``)
and ones it queues itself with ``await kernel.jobs.enqueue("plugin.job", **arguments)``
(JSON arguments). ``key=NEXT`` (or any key) queues a run only if none under that key
is waiting to start: the way to say "look again soon" from a hot path. A run is called
``await run(kernel, **arguments)``, at least once: it must be safe to repeat, since a
run whose worker died is run again by another.
"""

from kernel.contracts import Job, JobFunction
from kernel.jobs import NEXT, UnknownJob

__all__ = ["NEXT", "Job", "JobFunction", "UnknownJob"]
