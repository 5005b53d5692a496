"""``ticketing-sdk publish``: a signed bundle sent to a marketplace.

The bundle is checked here first, as the marketplace will check it (signed, every file
as the manifest lists it, a hook contract this SDK's kernel honours, no start-up-only
hook; with ``--public-key`` the signature itself too), so a publisher learns of a
mistake before uploading anything. It then travels as the archive
``kernel.bundles.archive.pack`` makes, in one ``POST {url}/api/v1/marketplace/bundles``
with the publisher's token.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kernel.bundles.archive import CONTENT_TYPE, pack
from kernel.bundles.checks import check_directory, check_hooks
from kernel.bundles.manifest import MANIFEST_FILE, BundleManifest
from kernel.bundles.signing import check_files, signing_key_id
from kernel.problems import PROBLEM_MEDIA_TYPE

ENDPOINT = "/api/v1/marketplace/bundles"
TOKEN_VARIABLE = "TICKETING_PUBLISHER_TOKEN"
# An archive is at most 20 MiB: time to upload it on a slow line, not to wait forever.
TIMEOUT = httpx.Timeout(120.0, connect=10.0)
MAX_SHOWN = 500  # characters of an answer that is not a problem, in an error message


class PublishFailed(Exception):
    """The bundle was not published; the message says why."""


@dataclass(frozen=True, slots=True)
class Published:
    plugin: str
    version: str
    status: str
    created: bool  # 201: a new version; 200: the marketplace already had this one


def check_bundle(bundle_dir: Path, public_keys: Sequence[Ed25519PublicKey] = ()) -> BundleManifest:
    """The manifest of a bundle fit to publish; raises a ``BundleRefused`` saying why not.

    Without ``public_keys`` the signature's presence and form are checked, not the
    signature itself (the marketplace checks it against the publisher's registered key).
    """
    bundle_dir = Path(bundle_dir)
    if public_keys:
        manifest, _key = check_directory(bundle_dir, public_keys)
        return manifest
    signing_key_id(bundle_dir)  # UnsignedBundle, or BadSignature for a malformed file
    manifest = BundleManifest.from_bytes((bundle_dir / MANIFEST_FILE).read_bytes())
    check_files(bundle_dir, manifest)
    manifest.check_compatible()
    check_hooks(manifest)
    return manifest


def endpoint(url: str, *, insecure: bool = False) -> str:
    """The marketplace's upload URL; plain HTTP only to this machine (or with ``insecure``),
    since the request carries the publisher's token."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise PublishFailed(f"{url!r} is not an http(s) URL of a ticketing platform")
    if parts.scheme == "http" and not insecure and not _loopback(parts.hostname):
        raise PublishFailed(
            f"{url} is plain HTTP: the token would travel unencrypted (use https, "
            "or --insecure for a test server)"
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}{ENDPOINT}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def publish(
    bundle_dir: Path,
    url: str,
    token: str,
    *,
    public_keys: Sequence[Ed25519PublicKey] = (),
    insecure: bool = False,
    transport: httpx.BaseTransport | None = None,
) -> Published:
    """Check, pack and upload the bundle; what the marketplace made of it."""
    if not token:
        raise PublishFailed(f"no publisher token: pass --token or set {TOKEN_VARIABLE}")
    target = endpoint(url, insecure=insecure)
    manifest = check_bundle(bundle_dir, public_keys)
    archive = pack(bundle_dir)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": CONTENT_TYPE,
        "Accept": f"application/json, {PROBLEM_MEDIA_TYPE}",
    }
    try:
        with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
            answer = client.post(target, content=archive, headers=headers)
    except httpx.HTTPError as exc:
        raise PublishFailed(f"could not reach {target}: {exc}") from exc
    if answer.status_code in (200, 201):
        body = _json(answer)
        return Published(
            plugin=str(body.get("plugin") or manifest.slug),
            version=str(body.get("version") or manifest.version),
            status=str(body.get("status") or "unknown"),
            created=answer.status_code == 201,
        )
    raise PublishFailed(_refusal(answer))


def _json(answer: httpx.Response) -> dict:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _refusal(answer: httpx.Response) -> str:
    media_type = answer.headers.get("content-type", "").split(";")[0].strip()
    if media_type == PROBLEM_MEDIA_TYPE:
        problem = _json(answer)
        title = problem.get("title") or f"HTTP {answer.status_code}"
        detail = problem.get("detail")
        return f"{title}: {detail}" if detail else str(title)
    text = answer.text.strip()[:MAX_SHOWN]
    return f"the marketplace answered {answer.status_code}: {text or answer.reason_phrase}"
