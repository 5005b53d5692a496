"""Fixtures only the integration tests need."""

from tests.support.s3 import s3_server  # noqa: F401
