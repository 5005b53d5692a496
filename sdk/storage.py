"""Object storage (``kernel.storage``): S3-compatible or a local directory behind one
:class:`ObjectStorage` protocol; a missing key raises :class:`ObjectNotFound`."""

from kernel.storage import ObjectNotFound, ObjectStorage

__all__ = ["ObjectNotFound", "ObjectStorage"]
