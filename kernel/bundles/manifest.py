"""The manifest of a plugin bundle: what the plugin is, what it needs from the kernel,
and the sha256 of every file shipped with it.

The signature covers the manifest's bytes, and the manifest covers every file, so one
signature vouches for the whole bundle. Serialization is canonical (sorted keys, no
whitespace, UTF-8) so the same manifest is always the same byte string.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from kernel.bundles.errors import IncompatibleBundle, InvalidManifest
from kernel.hookspecs import HOOK_CONTRACT_VERSION

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class BundleManifest:
    """What a bundle declares; :meth:`to_bytes` is what gets signed.

    :param kernel_compatibility: PEP 440 specifier on :data:`HOOK_CONTRACT_VERSION`.
    :param hooks: the ``ticketing_*`` hooks the plugin implements.
    :param permissions: the permissions the plugin asks an installing organization for.
    :param files: file name (relative to the bundle) to its sha256 hex digest.
    :param description: what the plugin does, in a sentence or two (the plugin's
        ``METADATA.description``); the marketplace shows and searches it.
    """

    slug: str
    version: str
    name: str
    category: str
    kernel_compatibility: str
    hooks: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    settings_schema: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    description: str = ""
    format: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        for name in ("slug", "version", "name", "category"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise InvalidManifest(f"the manifest's {name!r} must be a non-empty string")
        try:
            SpecifierSet(self.kernel_compatibility)
        except (InvalidSpecifier, TypeError) as exc:
            raise InvalidManifest(
                f"kernel_compatibility {self.kernel_compatibility!r} is not a PEP 440 specifier"
            ) from exc
        if not isinstance(self.description, str):
            raise InvalidManifest("the manifest's 'description' must be a string")
        for name in ("hooks", "permissions"):
            values = getattr(self, name)
            if isinstance(values, str) or not all(isinstance(value, str) for value in values):
                raise InvalidManifest(f"the manifest's {name!r} must be a list of strings")
            object.__setattr__(self, name, tuple(sorted(values)))
        if not isinstance(self.files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.files.items()
        ):
            raise InvalidManifest("the manifest's 'files' must map file names to sha256 digests")

    def compatible_with(self, contract_version: str = HOOK_CONTRACT_VERSION) -> bool:
        """Whether the plugin declares it works with this hook contract version."""
        return SpecifierSet(self.kernel_compatibility).contains(
            Version(contract_version), prereleases=True
        )

    def check_compatible(self, contract_version: str = HOOK_CONTRACT_VERSION) -> None:
        if not self.compatible_with(contract_version):
            raise IncompatibleBundle(
                f"{self.slug} {self.version} needs hook contract {self.kernel_compatibility}; "
                f"this kernel offers {contract_version}"
            )

    def to_bytes(self) -> bytes:
        """The canonical byte string a signature covers."""
        data = asdict(self)
        data["hooks"] = list(self.hooks)
        data["permissions"] = list(self.permissions)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8"
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> BundleManifest:
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidManifest(f"{MANIFEST_FILE} is not UTF-8 JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidManifest(f"{MANIFEST_FILE} must hold a JSON object")
        if data.get("format", FORMAT_VERSION) != FORMAT_VERSION:
            raise InvalidManifest(f"unknown bundle format {data.get('format')!r}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidManifest(f"{MANIFEST_FILE} has unknown fields: {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise InvalidManifest(f"{MANIFEST_FILE} is incomplete: {exc}") from exc
