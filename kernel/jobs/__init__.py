"""Background jobs: what plugins declare (``ticketing_jobs``), queued and run on taskiq."""

from kernel.jobs.queue import NEXT, JobQueue, UnknownJob

__all__ = ["NEXT", "JobQueue", "UnknownJob"]
