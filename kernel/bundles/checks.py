"""Every check a bundle archive passes before anything of it is trusted.

The same function answers the marketplace when a publisher uploads a version and every
process before it installs one: the archive unpacks safely, its signature is good for
one of the trusted keys (or it is unsigned and the platform allows that in
development), every file matches the manifest, the plugin fits this kernel's hook
contract, and its hooks are hook specifications the kernel can honour live.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kernel import hookspecs
from kernel.bundles.archive import sha256_bytes, unpack
from kernel.bundles.errors import HooksMismatch, HooksNotLive, InvalidManifest, UnsignedBundle
from kernel.bundles.manifest import MANIFEST_FILE, BundleManifest
from kernel.bundles.signing import SIGNATURE_FILE, check_files, signing_key_id, verify
from kernel.hookspecs import HOOK_CONTRACT_VERSION

#: Hooks the kernel calls only while it builds the app or a command: a plugin installed
#: into a running process would never be asked, so a bundle may not implement them.
STARTUP_ONLY_HOOKS = frozenset(
    {
        "ticketing_api_routers",
        "ticketing_unversioned_routers",
        "ticketing_permissions",
        "ticketing_cli",
        "ticketing_event_subscriptions",
        "ticketing_jobs",
        "ticketing_seed",
    }
)


@dataclass(frozen=True, slots=True)
class CheckedBundle:
    manifest: BundleManifest
    #: The key that signed it; None for an unsigned bundle allowed in development.
    key_id: str | None
    archive_sha256: str


def hook_spec_names() -> frozenset[str]:
    return frozenset(
        name
        for name in dir(hookspecs)
        if name.startswith("ticketing_") and hasattr(getattr(hookspecs, name), "ticketing_spec")
    )


def check_hooks(manifest: BundleManifest) -> None:
    """The manifest's hooks are this kernel's specifications and can be honoured live."""
    unknown = sorted(set(manifest.hooks) - hook_spec_names())
    if unknown:
        raise HooksMismatch(f"not hook specifications of this kernel: {', '.join(unknown)}")
    startup = sorted(set(manifest.hooks) & STARTUP_ONLY_HOOKS)
    if startup:
        raise HooksNotLive(
            f"{', '.join(startup)} are called only at start-up; ship such a plugin as an "
            "installed distribution instead of a bundle"
        )


def check_directory(
    bundle_dir: Path,
    trusted_keys: Iterable[Ed25519PublicKey],
    *,
    allow_unsigned: bool = False,
    contract_version: str = HOOK_CONTRACT_VERSION,
) -> tuple[BundleManifest, str | None]:
    """The manifest and signing key id of an unpacked bundle that passed every check."""
    if not (bundle_dir / SIGNATURE_FILE).is_file():
        if not allow_unsigned:
            raise UnsignedBundle(f"the bundle has no {SIGNATURE_FILE}")
        manifest_path = bundle_dir / MANIFEST_FILE
        if not manifest_path.is_file():
            raise InvalidManifest(f"the bundle has no {MANIFEST_FILE}")
        manifest = BundleManifest.from_bytes(manifest_path.read_bytes())
        check_files(bundle_dir, manifest)
        manifest.check_compatible(contract_version)
        key = None
    else:
        manifest = verify(bundle_dir, trusted_keys, contract_version=contract_version)
        key = signing_key_id(bundle_dir)
    check_hooks(manifest)
    return manifest, key


def check_archive(
    data: bytes,
    trusted_keys: Iterable[Ed25519PublicKey],
    *,
    allow_unsigned: bool = False,
    contract_version: str = HOOK_CONTRACT_VERSION,
) -> CheckedBundle:
    """Unpack ``data`` into a scratch directory and check it (see :func:`check_directory`)."""
    with tempfile.TemporaryDirectory(prefix="bundle-check-") as scratch:
        unpack(data, Path(scratch))
        manifest, key = check_directory(
            Path(scratch),
            trusted_keys,
            allow_unsigned=allow_unsigned,
            contract_version=contract_version,
        )
    return CheckedBundle(manifest=manifest, key_id=key, archive_sha256=sha256_bytes(data))
