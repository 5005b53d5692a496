"""The marketplace's refusals: each a problem type a client can act on."""

from __future__ import annotations

from kernel.bundles.errors import BundleRefused
from kernel.problems import Conflict, NotFound, Problem, UnprocessableContent


class PublisherNotFound(NotFound):
    code, title = "publisher-not-found", "No such publisher"


class PublisherTaken(Conflict):
    code, title = "publisher-taken", "The publisher slug is taken"


class InvalidPublicKey(UnprocessableContent):
    code, title = "invalid-public-key", "Not an Ed25519 public key"


class KeyExists(Conflict):
    code, title = "key-exists", "The key is already registered"


class KeyNotFound(NotFound):
    code, title = "key-not-found", "No such key"


class TooMany(Conflict):
    code, title = "limit-reached", "Limit reached"


class ListingNotFound(NotFound):
    code, title = "listing-not-found", "No such listing"


class ListingUnavailable(Conflict):
    code, title = "listing-unavailable", "The listing is not offered"


class PluginTaken(Conflict):
    code, title = "plugin-taken", "Another publisher owns this plugin slug"


class PluginReserved(Conflict):
    code, title = "plugin-reserved", "The slug belongs to a plugin this platform ships"


class CategoryRefused(UnprocessableContent):
    code, title = "bundle-category", "Not a marketplace category"


class UnknownPermissions(UnprocessableContent):
    code, title = "bundle-unknown-permission", "The bundle asks for permissions that do not exist"


class VersionExists(Conflict):
    code, title = "version-exists", "This version was published with other content"


class VersionNotOffered(UnprocessableContent):
    code, title = "version-not-offered", "The version is not offered"


class VersionShared(Conflict):
    code, title = "version-shared", "Other organizations run the deployed version"


class PermissionsNotGranted(UnprocessableContent):
    code, title = "permissions-not-granted", "The version asks for permissions not granted"


class AlreadyInstalled(Conflict):
    code, title = "already-installed", "The organization already installed this plugin"


class NotInstalled(NotFound):
    code, title = "not-installed", "The organization did not install this plugin"


class NoPreviousVersion(Conflict):
    code, title = "no-previous-version", "There is no previous version to roll back to"


class NotDeployed(NotFound):
    code, title = "not-deployed", "The plugin is not deployed"


class PurgeUnavailable(Conflict):
    code, title = "purge-unavailable", "The plugin cannot purge its data here"


class BundleLoadFailed(UnprocessableContent):
    code, title = "bundle-load-failed", "The bundle did not load; nothing changed"


class NotAZip(Problem):
    status, code, title = 415, "unsupported-media-type", "Send the bundle as application/zip"


def bundle_refused(exc: BundleRefused) -> Problem:
    """A refused bundle as its problem: the type names the check that failed."""
    return Problem(str(exc), status=422, code=exc.code, title="The bundle was refused")
