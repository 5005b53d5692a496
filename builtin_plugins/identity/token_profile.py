"""What a verified NextAuth/Auth.js token says about its user, made safe to store.

A genuine token is still data from the front end, whose OAuth providers put what they
like in a profile: a display name of any length, an avatar as a long ``data:`` URL,
``null`` or a number where a string belongs. The columns they land in are bounded
(``user_account``: email 320, name 200, image 2,048 characters; ``user_session.token_id``
128), so each claim is checked here first, and a token is either stored sensibly or
refused with a 401, never a database error:

* ``email``: required, a string with an ``@``, at most 320 characters, nothing that
  cannot be stored or compared (control characters): else 401;
* ``name``: a string or absent/``null`` (else 401); characters PostgreSQL cannot store
  (NUL, lone surrogates) are dropped, and it is cut to 200 characters;
* ``picture``: a string or absent/``null`` (else 401); one longer than 2,048 characters
  is ignored (the stored image stays as it was), since a cut URL points nowhere;
* ``sid``/``jti``: the session's key; one that is not a short string (at most 128
  characters) is replaced by a digest of its value, so it still names one session.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from sdk import Unauthorized

MAX_EMAIL = 320
MAX_NAME = 200
MAX_PICTURE = 2048
MAX_TOKEN_ID = 128


@dataclass(frozen=True, slots=True)
class TokenProfile:
    email: str
    name: str | None
    picture: str | None
    token_id: str


def _unstorable(char: str) -> bool:
    return char == "\x00" or "\ud800" <= char <= "\udfff"


def _email(value: Any) -> str:
    if not isinstance(value, str) or "@" not in value:
        raise Unauthorized("The session token names no email address.")
    email = value.strip()
    if len(email) > MAX_EMAIL or any(unicodedata.category(c)[0] in "CZ" for c in email):
        raise Unauthorized("The session token's email address is not valid.")
    return email


def _text(claims: dict[str, Any], claim: str) -> str | None:
    value = claims.get(claim)
    if value is not None and not isinstance(value, str):
        raise Unauthorized(f"The session token's {claim} claim is not text.")
    return value


def _name(claims: dict[str, Any]) -> str | None:
    name = _text(claims, "name")
    if name is None:
        return None
    return "".join(c for c in name if not _unstorable(c)).strip()[:MAX_NAME] or None


def _picture(claims: dict[str, Any]) -> str | None:
    picture = _text(claims, "picture")
    if picture is None or len(picture) > MAX_PICTURE or any(map(_unstorable, picture)):
        return None
    return picture


def _token_id(claims: dict[str, Any], token: str) -> str:
    for claim in ("sid", "jti"):
        value = claims.get(claim)
        if value is None or value == "":
            continue
        if isinstance(value, str) and len(value) <= MAX_TOKEN_ID:
            if not any(map(_unstorable, value)):
                return value
        canonical = json.dumps(value, sort_keys=True, ensure_ascii=True)
        return f"{claim}:sha256:{hashlib.sha256(canonical.encode()).hexdigest()}"
    return hashlib.sha256(token.encode()).hexdigest()


def token_profile(claims: dict[str, Any], token: str) -> TokenProfile:
    """The user and session a verified token names; raises 401 :class:`Unauthorized`."""
    return TokenProfile(
        email=_email(claims.get("email")),
        name=_name(claims),
        picture=_picture(claims),
        token_id=_token_id(claims, token),
    )
