"""``ticketing-sdk publish``: a signed bundle reaches the marketplace's upload endpoint as
the agreed request (the archive ``pack`` makes, the publisher's bearer token,
``application/zip``), the answer is shown, a refusal exits 1 with its title and detail,
and a bundle that would be refused is never sent.

The marketplace is a stand-in on a real loopback HTTP server that records each request
and answers what the test tells it to.
"""

import io
import json
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from kernel.bundles.archive import pack
from kernel.bundles.keys import PUBLIC_KEY_FILE, public_key_text
from sdk.bundles import MANIFEST_FILE, SIGNATURE_FILE
from sdk.tools.cli import app
from tests.unit.test_bundles import make_bundle

TOKEN = "publisher-token-0123456789"


@dataclass
class Marketplace:
    url: str
    requests: list[dict] = field(default_factory=list)
    status: int = 201
    content_type: str = "application/json"
    body: dict = field(default_factory=dict)


@pytest.fixture(scope="module")
def marketplace() -> Iterator[Marketplace]:
    stand_in = Marketplace(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            stand_in.requests.append(
                {"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)}
            )
            answer = json.dumps(stand_in.body).encode()
            self.send_response(stand_in.status)
            self.send_header("Content-Type", stand_in.content_type)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield stand_in
    server.shutdown()
    server.server_close()


@pytest.fixture
def market(marketplace: Marketplace) -> Marketplace:
    marketplace.requests.clear()
    marketplace.status, marketplace.content_type = 201, "application/json"
    marketplace.body = {"plugin": "group-discount", "version": "1.0.0", "status": "pending_review"}
    return marketplace


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def bundle(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    return make_bundle(tmp_path / "bundle", key, permissions=())


def publish(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, ["publish", *args], env=env)


def test_a_signed_bundle_is_uploaded_and_the_answer_shown(market, bundle):
    done = publish(str(bundle), "--url", market.url + "/", "--token", TOKEN)
    assert done.exit_code == 0, done.output
    assert "published group-discount 1.0.0 (status: pending_review)" in done.output
    [sent] = market.requests
    assert sent["path"] == "/api/v1/marketplace/bundles"
    assert sent["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert sent["headers"]["Content-Type"] == "application/zip"
    assert sent["body"] == pack(bundle)
    names = zipfile.ZipFile(io.BytesIO(sent["body"])).namelist()
    assert {MANIFEST_FILE, SIGNATURE_FILE} <= set(names)


def test_the_token_comes_from_the_environment(market, bundle):
    done = publish(str(bundle), "--url", market.url, env={"TICKETING_PUBLISHER_TOKEN": TOKEN})
    assert done.exit_code == 0, done.output
    assert market.requests[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"


def test_a_version_already_published_says_so(market, bundle):
    market.status, market.body["status"] = 200, "published"
    done = publish(str(bundle), "--url", market.url, "--token", TOKEN)
    assert done.exit_code == 0, done.output
    assert "already published group-discount 1.0.0 (status: published)" in done.output


def test_a_refusal_exits_1_with_its_title_and_detail(market, bundle):
    market.status, market.content_type = 409, "application/problem+json"
    market.body = {
        "type": "urn:ticketing:problem:version-exists",
        "title": "This version is already published",
        "status": 409,
        "detail": "group-discount 1.0.0 was published with other contents.",
    }
    done = publish(str(bundle), "--url", market.url, "--token", TOKEN)
    assert done.exit_code == 1
    assert (
        "error: This version is already published: group-discount 1.0.0 was published "
        "with other contents." in done.output
    )


def test_an_answer_that_is_no_problem_is_shown_with_its_status(market, bundle):
    market.status, market.content_type, market.body = 502, "text/plain", {}
    done = publish(str(bundle), "--url", market.url, "--token", TOKEN)
    assert done.exit_code == 1
    assert "the marketplace answered 502" in done.output


def test_an_unsigned_bundle_is_not_sent(market, tmp_path):
    unsigned = make_bundle(tmp_path / "unsigned", None)
    done = publish(str(unsigned), "--url", market.url, "--token", TOKEN)
    assert done.exit_code == 1
    assert "UnsignedBundle" in done.output
    assert market.requests == []


def test_a_bundle_changed_after_signing_is_not_sent(market, bundle):
    (bundle / "assets" / "logo.svg").write_text("<svg>changed</svg>")
    done = publish(str(bundle), "--url", market.url, "--token", TOKEN)
    assert done.exit_code == 1
    assert "ModifiedBundle" in done.output
    assert market.requests == []


def test_a_bundle_with_a_start_up_only_hook_is_not_sent(market, tmp_path, key):
    routed = make_bundle(tmp_path / "routed", key, hooks=("ticketing_api_routers",))
    done = publish(str(routed), "--url", market.url, "--token", TOKEN)
    assert done.exit_code == 1
    assert "HooksNotLive" in done.output
    assert market.requests == []


def test_with_a_public_key_the_signature_itself_is_checked(market, bundle, key, tmp_path):
    mine = tmp_path / PUBLIC_KEY_FILE
    mine.write_text(public_key_text(key.public_key()))
    other = tmp_path / "other.pub"
    other.write_text(public_key_text(Ed25519PrivateKey.generate().public_key()))

    refused = publish(
        str(bundle), "--url", market.url, "--token", TOKEN, "--public-key", str(other)
    )
    assert refused.exit_code == 1
    assert "UnknownKey" in refused.output
    assert market.requests == []

    done = publish(str(bundle), "--url", market.url, "--token", TOKEN, "--public-key", str(mine))
    assert done.exit_code == 0, done.output
    assert len(market.requests) == 1


def test_no_token_is_refused_before_anything_is_sent(market, bundle):
    done = publish(str(bundle), "--url", market.url, env={"TICKETING_PUBLISHER_TOKEN": ""})
    assert done.exit_code != 0
    assert market.requests == []


def test_the_token_never_travels_in_clear_text_to_another_host(market, bundle):
    done = publish(str(bundle), "--url", "http://marketplace.example.com", "--token", TOKEN)
    assert done.exit_code == 1
    assert "plain HTTP" in done.output


def test_an_unreachable_marketplace_is_reported(bundle):
    from tests.support.ports import free_port

    url = f"http://127.0.0.1:{free_port()}"
    done = publish(str(bundle), "--url", url, "--token", TOKEN)
    assert done.exit_code == 1
    assert "could not reach" in done.output
