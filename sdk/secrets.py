"""Signing secrets for a laptop run: generated once into the data directory when a
plugin's secret is not configured, refused in production (:mod:`kernel.local_secrets`)."""

from kernel.local_secrets import MissingSecret, local_secret, random_secret

__all__ = ["MissingSecret", "local_secret", "random_secret"]
