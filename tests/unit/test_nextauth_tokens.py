"""Session tokens minted by the real npm packages (next-auth v4, @auth/core, jose) verify,
and every way of bending them is refused."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import time

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwe
from joserfc.jwk import OctKey

from builtin_plugins.identity.nextauth_tokens import (
    SESSION_COOKIE_NAMES,
    InvalidSessionToken,
    decode_session_token,
    session_token_from_cookies,
)
from tests.support.nextauth import mint_tokens

SECRET = "Vd7dSXQ2p9m0rWqTg5k6cJ0bH3yLfN8zPaE4uRiO1sM="
OLD_SECRET = "old-secret-3fJ9kLm2Qp8rTs7vWx6yZa5bCd4eFg3h"
FOREIGN_SECRET = "someone-elses-secret-9hG8fE7dC6bA5zY4xW3v"
V5_SALT = "authjs.session-token"
CLAIMS = {
    "name": "Ada Lovelace",
    "email": "ada@example.test",
    "picture": "https://example.test/ada.png",
    "sub": "user-1",
}
CHUNK_SIZE = 4096 - 160  # @auth/core's SessionStore: ALLOWED_COOKIE_SIZE - empty cookie size
HOUR = 3600

REQUESTS = {
    "v4": {"kind": "v4", "secret": SECRET, "claims": CLAIMS},
    "hs256": {"kind": "hs256", "secret": SECRET, "claims": CLAIMS},
    "v4_old": {"kind": "v4", "secret": OLD_SECRET, "claims": CLAIMS},
    "v5_old": {"kind": "v5", "secret": OLD_SECRET, "salt": V5_SALT, "claims": CLAIMS},
    "v5_new_of_two": {"kind": "v5", "secret": [SECRET, OLD_SECRET], "salt": V5_SALT},
    "hs256_old": {"kind": "hs256", "secret": OLD_SECRET, "claims": CLAIMS},
    "v4_expired": {"kind": "v4", "secret": SECRET, "maxAge": -HOUR},
    "v5_expired": {"kind": "v5", "secret": SECRET, "salt": V5_SALT, "maxAge": -HOUR},
    "hs256_expired": {"kind": "hs256", "secret": SECRET, "maxAge": -HOUR},
    "v4_just_expired": {"kind": "v4", "secret": SECRET, "maxAge": -10},
    "v4_nbf_future": {"kind": "v4", "secret": SECRET, "claims": {"nbf": "FUTURE"}},
    "v5_nbf_future": {"kind": "v5", "secret": SECRET, "salt": V5_SALT, "claims": {"nbf": "FUTURE"}},
    "hs256_iat_future": {"kind": "hs256", "secret": SECRET, "claims": {"iat": "FUTURE"}},
    "hs256_no_number_exp": {"kind": "hs256", "secret": SECRET, "claims": {"exp": "tomorrow"}},
    "hs512": {"kind": "hs256", "secret": SECRET, "header": {"alg": "HS512"}},
    "hs256_typ_jwt": {
        "kind": "hs256",
        "secret": SECRET,
        "claims": CLAIMS,
        "header": {"typ": "JWT"},
    },
    "hs256_kid": {"kind": "hs256", "secret": SECRET, "header": {"kid": "k1"}},
    "v4_foreign": {"kind": "v4", "secret": FOREIGN_SECRET},
    "v5_foreign": {"kind": "v5", "secret": FOREIGN_SECRET, "salt": V5_SALT},
    "hs256_foreign": {"kind": "hs256", "secret": FOREIGN_SECRET},
    "v5_large": {
        "kind": "v5",
        "secret": SECRET,
        "salt": "__Secure-authjs.session-token",
        "claims": {**CLAIMS, "roles": [f"role-{i:05d}" for i in range(500)]},
    },
    **{
        f"v5:{name}": {"kind": "v5", "secret": SECRET, "salt": name, "claims": CLAIMS}
        for name in SESSION_COOKIE_NAMES
    },
}


@pytest.fixture(scope="module")
def tokens() -> dict[str, str]:
    """Every token above, minted in one node run; ``FUTURE`` is an hour from now."""
    future = int(time.time()) + HOUR
    requests = json.loads(json.dumps(list(REQUESTS.values())).replace('"FUTURE"', str(future)))
    return dict(zip(REQUESTS, mint_tokens(requests), strict=True))


def decode(token: str, **options) -> dict:
    return decode_session_token(token, **{"secrets": [SECRET], **options})


def refused(token: str, **options) -> str:
    with pytest.raises(InvalidSessionToken) as caught:
        decode(token, **options)
    for secret in (SECRET, OLD_SECRET, FOREIGN_SECRET):
        assert secret not in str(caught.value)
    return caught.value.reason


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def header_of(token: str) -> dict:
    return json.loads(unb64(token.split(".")[0]))


def with_header(token: str, header: dict) -> str:
    return ".".join([b64(json.dumps(header).encode()), *token.split(".")[1:]])


def flip(token: str, segment: int, at: int = 5) -> str:
    """Change one base64url character well inside a segment, so its bytes change."""
    parts = token.split(".")
    char = parts[segment][at]
    parts[segment] = parts[segment][:at] + ("A" if char != "A" else "B") + parts[segment][at + 1 :]
    return ".".join(parts)


def v5_key(secret: str, salt: str, length: int = 64) -> bytes:
    info = f"Auth.js Generated Encryption Key ({salt})".encode()
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=salt.encode(), info=info)
    return hkdf.derive(secret.encode())


# --- accepted --------------------------------------------------------------------------


def test_v4_token_decodes(tokens):
    claims = decode(tokens["v4"])
    assert header_of(tokens["v4"]) == {"alg": "dir", "enc": "A256GCM"}
    assert claims.items() >= CLAIMS.items()
    assert claims["exp"] - claims["iat"] == 30 * 24 * HOUR
    assert claims["jti"]


@pytest.mark.parametrize("salt", SESSION_COOKIE_NAMES)
def test_v5_token_decodes_for_its_cookie_name(tokens, salt):
    token = tokens[f"v5:{salt}"]
    assert header_of(token).keys() == {"alg", "enc", "kid"}
    assert header_of(token)["enc"] == "A256CBC-HS512"
    assert decode(token, salt=salt).items() >= CLAIMS.items()
    assert decode(token).items() >= CLAIMS.items()  # salt=None tries every cookie name


def test_v5_token_for_another_cookie_name_is_refused(tokens):
    token = tokens["v5:authjs.session-token"]
    assert refused(token, salt="__Secure-authjs.session-token") == (
        "token key id matches no configured secret"
    )


def test_hs256_token_decodes(tokens):
    assert decode(tokens["hs256"]).items() >= CLAIMS.items()
    assert decode(tokens["hs256_typ_jwt"])["sub"] == "user-1"


@pytest.mark.parametrize("name", ["v4_old", "v5_old", "hs256_old"])
def test_token_from_a_rotated_out_secret_decodes_while_it_is_configured(tokens, name):
    assert decode(tokens[name], secrets=[SECRET, OLD_SECRET])["sub"] == "user-1"
    assert refused(tokens[name], secrets=[SECRET])


def test_v5_kid_is_the_sha512_thumbprint_of_the_derived_key(tokens):
    """@auth/core writes kid = RFC 7638 thumbprint of {kty: oct, k: key}, hashed SHA-512."""
    key = b64(v5_key(OLD_SECRET, V5_SALT))
    jwk = json.dumps({"k": key, "kty": "oct"}, separators=(",", ":")).encode()
    assert header_of(tokens["v5_old"])["kid"] == b64(hashlib.sha512(jwk).digest())


def test_v5_encodes_with_the_first_secret_and_the_kid_picks_it(tokens):
    token = tokens["v5_new_of_two"]
    assert decode(token, secrets=[OLD_SECRET, SECRET])
    assert refused(token, secrets=[OLD_SECRET]) == "token key id matches no configured secret"


def test_v5_token_without_kid_tries_each_secret():
    """Tokens of @auth/core before it wrote a kid: same key and enc, no kid."""
    now = int(time.time())
    claims = json.dumps({"sub": "user-1", "iat": now, "exp": now + HOUR})
    header = {"alg": "dir", "enc": "A256CBC-HS512"}
    key = OctKey.import_key(v5_key(OLD_SECRET, V5_SALT))
    token = jwe.encrypt_compact(header, claims, key, algorithms=["dir", "A256CBC-HS512"])
    assert decode(token, secrets=[SECRET, OLD_SECRET])["sub"] == "user-1"
    assert refused(token) == "token could not be decrypted"


def test_token_expired_within_the_leeway_still_decodes(tokens):
    assert decode(tokens["v4_just_expired"])
    assert refused(tokens["v4_just_expired"], leeway_seconds=0) == "token has expired"


# --- refused: time -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["v4_expired", "v5_expired", "hs256_expired"])
def test_expired_token_is_refused(tokens, name):
    assert refused(tokens[name]) == "token has expired"


@pytest.mark.parametrize("name", ["v4", "v5:authjs.session-token", "hs256"])
def test_token_is_refused_once_the_clock_passes_its_expiry(tokens, name):
    exp = decode(tokens[name])["exp"]
    assert decode(tokens[name], now=exp + 29)
    assert refused(tokens[name], now=exp + 30) == "token has expired"


@pytest.mark.parametrize("name", ["v4_nbf_future", "v5_nbf_future"])
def test_token_not_valid_yet_is_refused(tokens, name):
    assert refused(tokens[name]) == "token is not valid yet"
    assert decode(tokens[name], now=time.time() + HOUR)


def test_token_issued_in_the_future_is_refused(tokens):
    assert refused(tokens["hs256_iat_future"]) == "token was issued in the future"
    for name in ("v4", "v5:authjs.session-token", "hs256"):
        iat = decode(tokens[name])["iat"]
        assert decode(tokens[name], now=iat - 30)
        assert refused(tokens[name], now=iat - 31) == "token was issued in the future"


def test_token_without_a_numeric_expiry_is_refused(tokens):
    assert refused(tokens["hs256_no_number_exp"]) == "token claim exp is not a number"
    no_exp = pyjwt.encode({"sub": "user-1", "iat": int(time.time())}, SECRET)
    assert refused(no_exp) == "token has no expiry"
    never = pyjwt.encode({"exp": float("inf")}, SECRET)  # JSON "Infinity", as Python writes it
    assert refused(never) == "token claim exp is not a number"


# --- refused: keys, algorithms, tampering ------------------------------------------------


@pytest.mark.parametrize("name", ["v4_foreign", "v5_foreign", "hs256_foreign"])
def test_token_for_a_foreign_secret_is_refused(tokens, name):
    assert refused(tokens[name])


@pytest.mark.parametrize("name", ["v4", "v5:authjs.session-token"])
@pytest.mark.parametrize(("segment", "what"), [(2, "iv"), (3, "ciphertext"), (4, "tag")])
def test_tampered_jwe_is_refused(tokens, name, segment, what):
    reason = refused(flip(tokens[name], segment))
    assert reason == "token could not be decrypted", what


def test_jwe_with_an_encrypted_key_is_refused(tokens):
    parts = tokens["v4"].split(".")
    parts[1] = b64(b"\0" * 32)
    assert refused(".".join(parts))


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "none", "enc": "A256GCM"},
        {"alg": "dir", "enc": "A128GCM"},
        {"alg": "dir", "enc": "A128CBC-HS256"},
        {"alg": "RSA-OAEP", "enc": "A256GCM"},
        {"alg": "A256KW", "enc": "A256GCM"},
        {"alg": "dir"},
        {"enc": "A256GCM"},
    ],
)
def test_jwe_with_another_algorithm_is_refused(tokens, header):
    assert refused(with_header(tokens["v4"], header)) == "unsupported token algorithm"


@pytest.mark.parametrize(
    "extra", [{"zip": "DEF"}, {"crit": ["exp"]}, {"kid": "x"}, {"jku": "https://x.test"}]
)
def test_v4_jwe_with_an_extra_header_parameter_is_refused(tokens, extra):
    token = with_header(tokens["v4"], {**header_of(tokens["v4"]), **extra})
    assert refused(token) == "unexpected token header parameter"


def test_v5_jwe_with_a_changed_kid_or_extra_parameter_is_refused(tokens):
    token = tokens["v5:authjs.session-token"]
    header = header_of(token)
    assert refused(with_header(token, {**header, "kid": "other"}))
    assert refused(with_header(token, {**header, "zip": "DEF"}))
    assert refused(with_header(token, {**header, "kid": 1}))


def test_header_reencoded_unchanged_in_meaning_still_fails_its_authentication(tokens):
    """The protected header is the JWE's additional data: re-encoding it breaks the tag."""
    token = tokens["v5:authjs.session-token"]
    header = header_of(token)
    respaced = ".".join([b64(json.dumps(header, indent=1).encode()), *token.split(".")[1:]])
    assert refused(respaced) == "token could not be decrypted"


def test_v4_token_presented_as_v5_and_v5_as_v4_is_refused(tokens):
    v4, v5 = tokens["v4"], tokens["v5:authjs.session-token"]
    assert refused(with_header(v4, header_of(v5)))
    assert refused(with_header(v4, {"alg": "dir", "enc": "A256CBC-HS512"}))
    assert refused(with_header(v5, {"alg": "dir", "enc": "A256GCM"}))


def test_a256gcm_with_the_auth_js_key_is_refused():
    """@auth/core's decode would take this; its encode never writes it, so neither do we."""
    now = int(time.time())
    claims = json.dumps({"sub": "user-1", "iat": now, "exp": now + HOUR})
    key = OctKey.import_key(v5_key(SECRET, V5_SALT, length=32))
    token = jwe.encrypt_compact(
        {"alg": "dir", "enc": "A256GCM"}, claims, key, algorithms=["dir", "A256GCM"]
    )
    assert refused(token, salt=V5_SALT)


def test_hs256_token_resigned_with_alg_none_is_refused(tokens):
    header, payload, signature = tokens["hs256"].split(".")
    for alg in ("none", "None", "NONE"):
        unsigned = b64(json.dumps({"alg": alg}).encode())
        assert refused(f"{unsigned}.{payload}.") == "unsupported token algorithm"
        assert refused(f"{unsigned}.{payload}.{signature}") == "unsupported token algorithm"
    assert refused(f"{header}.{payload}.") == "token signature is invalid"


def test_hs512_token_is_refused_even_with_the_right_secret(tokens):
    assert refused(tokens["hs512"]) == "unsupported token algorithm"


@pytest.mark.parametrize("alg", ["RS256", "ES256", "PS256", "EdDSA", "HS384"])
def test_hs256_payload_under_another_alg_is_refused(tokens, alg):
    assert refused(with_header(tokens["hs256"], {"alg": alg})) == "unsupported token algorithm"


def test_hs256_with_an_unexpected_header_parameter_is_refused(tokens):
    token = tokens["hs256"]
    assert refused(tokens["hs256_kid"]) == "unexpected token header parameter"
    for header in ({"alg": "HS256", "b64": False}, {"alg": "HS256", "typ": "JWE"}):
        assert refused(with_header(token, header)) == "unexpected token header parameter"


def test_tampered_hs256_payload_or_signature_is_refused(tokens):
    header, payload, signature = tokens["hs256"].split(".")
    forged = b64(json.dumps({**json.loads(unb64(payload)), "sub": "admin"}).encode())
    assert refused(f"{header}.{forged}.{signature}")
    assert refused(flip(tokens["hs256"], 2))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b",
        "a.b.c",
        "a.b.c.d.e",
        "....",
        "a.b.c.d.e.f",
        "eyJhbGciOiJkaXIifQ",
        "W10.e30.",  # header is a JSON list
        "bnVsbA..a.b.c",  # header is JSON null
        "x" * 70_000,
        "\u00e9.\u00e9.\u00e9",
        b64(b"[" * 40_000) + ".e30.",  # nesting deep enough to exhaust the JSON parser
    ],
)
def test_garbage_is_refused(token):
    assert refused(token)


def test_non_string_token_is_refused():
    assert refused(None)  # type: ignore[arg-type]
    assert refused(b"a.b.c")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["v4", "v5:authjs.session-token", "hs256"])
def test_truncated_token_is_refused(tokens, name):
    token = tokens[name]
    assert refused(token[:-6])
    assert refused(token.rsplit(".", 1)[0])
    assert refused(token[: len(token) // 2])


@pytest.mark.parametrize("name", ["v4", "v5:authjs.session-token", "hs256"])
def test_random_single_character_damage_is_always_refused_cleanly(tokens, name):
    """Whatever one wrong character does, the answer is InvalidSessionToken, never a crash."""
    token, rng = tokens[name], random.Random(name)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ "
    damaged = set()
    while len(damaged) < 150:
        at = rng.randrange(len(token))
        candidate = token[:at] + rng.choice(alphabet) + token[at + 1 :]
        if base64_equivalent(candidate, token):
            continue  # a change only in a segment's unused trailing bits decodes the same
        damaged.add(candidate)
    for candidate in damaged:
        assert refused(candidate)


def base64_equivalent(candidate: str, token: str) -> bool:
    mine, theirs = candidate.split("."), token.split(".")
    if len(mine) != len(theirs) or candidate.count("=") or candidate.count("+"):
        return False
    try:
        return all(unb64(a) == unb64(b) for a, b in zip(mine, theirs, strict=True))
    except ValueError:
        return False


def test_secrets_must_be_a_list_of_non_empty_strings(tokens):
    for secrets in (SECRET, [], [""], ()):
        with pytest.raises(ValueError):
            decode_session_token(tokens["v4"], secrets=secrets)


# --- cookies -----------------------------------------------------------------------------


def test_unchunked_cookie_is_found_under_each_name(tokens):
    for name in SESSION_COOKIE_NAMES:
        cookies = {"other": "x", name: tokens[f"v5:{name}"]}
        token, cookie_name = session_token_from_cookies(cookies)
        assert cookie_name == name
        assert decode(token, salt=cookie_name)["sub"] == "user-1"


def test_cookie_names_are_tried_in_order():
    cookies = {name: name.upper() for name in reversed(SESSION_COOKIE_NAMES)}
    assert session_token_from_cookies(cookies) == (
        "__SECURE-AUTHJS.SESSION-TOKEN",
        "__Secure-authjs.session-token",
    )
    assert session_token_from_cookies({"next-auth.session-token": "t"}) == (
        "t",
        "next-auth.session-token",
    )


def test_no_session_cookie_gives_none():
    assert session_token_from_cookies({}) is None
    assert session_token_from_cookies({"authjs.csrf-token": "x", "session": "y"}) is None
    assert session_token_from_cookies({"authjs.session-token": ""}) is None


def chunks_of(token: str, name: str) -> dict[str, str]:
    """Split the way @auth/core's SessionStore does when a token outgrows one cookie."""
    pieces = [token[at : at + CHUNK_SIZE] for at in range(0, len(token), CHUNK_SIZE)]
    return {f"{name}.{index}": piece for index, piece in enumerate(pieces)}


def test_chunked_cookies_are_joined_in_numeric_order(tokens):
    name = "__Secure-authjs.session-token"
    chunks = chunks_of(tokens["v5_large"], name)
    assert list(chunks) == [f"{name}.0", f"{name}.1", f"{name}.2"]
    shuffled = dict(reversed(chunks.items()))
    token, cookie_name = session_token_from_cookies({"theme": "dark", **shuffled})
    assert (token, cookie_name) == (tokens["v5_large"], name)
    assert len(decode(token, salt=cookie_name)["roles"]) == 500


def test_chunks_past_nine_sort_numerically():
    cookies = {f"authjs.session-token.{index}": f"<{index}>" for index in range(12)}
    token, _ = session_token_from_cookies(cookies)
    assert token == "".join(f"<{index}>" for index in range(12))


@pytest.mark.parametrize(
    "indexes", [(0, 2), (1, 2), (1,), (0, 1, 3)], ids=["gap", "no-zero", "only-one", "gap-end"]
)
def test_chunks_with_a_gap_are_refused(tokens, indexes):
    name = "__Secure-authjs.session-token"
    chunks = list(chunks_of(tokens["v5_large"], name).values()) + ["more"]
    cookies = {f"{name}.{index}": chunks[index] for index in indexes}
    assert session_token_from_cookies(cookies) is None


def test_an_emptied_chunk_counts_as_missing(tokens):
    name = "authjs.session-token"
    cookies = {**chunks_of(tokens["v5_large"], name), f"{name}.1": ""}
    assert session_token_from_cookies(cookies) is None


def test_only_canonical_chunk_suffixes_count():
    cookies = {
        "authjs.session-token.0": "a",
        "authjs.session-token.01": "x",
        "authjs.session-token.+1": "x",
        "authjs.session-token.\u0661": "x",  # ARABIC-INDIC DIGIT ONE
        "authjs.session-token.1.0": "x",
        "authjs.session-token.1": "b",
    }
    assert session_token_from_cookies(cookies) == ("ab", "authjs.session-token")


def test_chunks_of_different_names_do_not_mix():
    cookies = {"__Secure-authjs.session-token.0": "a", "authjs.session-token.1": "b"}
    assert session_token_from_cookies(cookies) == ("a", "__Secure-authjs.session-token")
    cookies = {"__Secure-authjs.session-token.1": "a", "authjs.session-token.1": "b"}
    assert session_token_from_cookies(cookies) is None


def test_broken_chunks_fall_through_to_the_next_cookie_name():
    cookies = {"__Secure-authjs.session-token.1": "stale", "next-auth.session-token": "v4"}
    assert session_token_from_cookies(cookies) == ("v4", "next-auth.session-token")


def test_unchunked_cookie_wins_over_leftover_chunks_of_the_same_name(tokens):
    name = "authjs.session-token"
    cookies = {**chunks_of("stale" * 1000, name), name: tokens[f"v5:{name}"]}
    assert session_token_from_cookies(cookies) == (tokens[f"v5:{name}"], name)
