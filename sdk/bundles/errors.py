"""Why a bundle is refused: one exception type per reason, so an installer (and the
``ticketing-sdk verify`` command) can say exactly which check failed."""


class BundleRefused(Exception):
    """A bundle that must not be installed; the message says why."""


class InvalidManifest(BundleRefused):
    """``manifest.json`` is missing, not JSON, or lacks a field a bundle must state."""


class UnsignedBundle(BundleRefused):
    """The bundle has no signature file."""


class UnknownKey(BundleRefused):
    """The signature names a key that is not among the trusted publisher keys."""


class BadSignature(BundleRefused):
    """The signature does not match the manifest's bytes (the manifest was changed, or
    the signature file is damaged)."""


class ModifiedBundle(BundleRefused):
    """A file differs from its sha256 in the manifest, is missing, or is not listed."""


class IncompatibleBundle(BundleRefused):
    """The bundle's kernel compatibility does not include the running hook contract."""
