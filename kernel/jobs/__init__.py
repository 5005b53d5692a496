"""Background jobs: what plugins declare (``ticketing_jobs``), queued and run on taskiq."""

from kernel.jobs.queue import JobQueue, UnknownJob
from kernel.jobs.schedule import NEXT

__all__ = ["NEXT", "JobQueue", "UnknownJob"]
