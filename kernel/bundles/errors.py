"""Why a bundle is refused: one exception type per reason, so an installer, the
marketplace's problem answers and ``ticketing-sdk verify`` can say exactly which check
failed. ``code`` is the problem type the API answers with."""


class BundleRefused(Exception):
    """A bundle that must not be installed; the message says why."""

    code = "bundle-refused"


class InvalidManifest(BundleRefused):
    """``manifest.json`` is missing, not JSON, or lacks a field a bundle must state."""

    code = "bundle-invalid"


class UnsignedBundle(BundleRefused):
    """The bundle has no signature file."""

    code = "bundle-unsigned"


class UnknownKey(BundleRefused):
    """The signature names a key that is not among the trusted publisher keys."""

    code = "bundle-unknown-key"


class BadSignature(BundleRefused):
    """The signature does not match the manifest's bytes (the manifest was changed, or
    the signature file is damaged)."""

    code = "bundle-bad-signature"


class ModifiedBundle(BundleRefused):
    """A file differs from its sha256 in the manifest, is missing, or is not listed."""

    code = "bundle-modified"


class IncompatibleBundle(BundleRefused):
    """The bundle's kernel compatibility does not include the running hook contract."""

    code = "bundle-incompatible"


class RevokedBundle(BundleRefused):
    """The version, or the key that signed it, is on the platform's revocation list."""

    code = "bundle-revoked"


class HooksMismatch(BundleRefused):
    """The manifest's hooks are not hook specifications of this kernel, or not the hooks
    the plugin really implements."""

    code = "bundle-hooks-mismatch"


class HooksNotLive(BundleRefused):
    """The plugin implements a hook the kernel calls only while it starts (routes, ORM
    models, permissions, commands, subscriptions), which a live install cannot honour."""

    code = "bundle-hooks-not-live"


class UnsupportedWheel(BundleRefused):
    """The bundle does not hold exactly one pure-Python wheel the kernel can install
    (compiled code, install scripts or data outside the package are refused)."""

    code = "bundle-unsupported-wheel"


class SlugTaken(BundleRefused):
    """The bundle's plugin slug, or the deployment naming it, is not the bundle's own: a
    plugin installed with the platform already uses it, or the deployment names another
    plugin or version."""

    code = "bundle-slug-taken"


class ModuleConflict(BundleRefused):
    """The bundle ships a top-level module the process already imports or can import
    from elsewhere; loading it would shadow, or be shadowed by, that module."""

    code = "bundle-module-conflict"


class LoadFailed(BundleRefused):
    """The bundle passed its checks but its plugin failed to import or register."""

    code = "bundle-load-failed"
