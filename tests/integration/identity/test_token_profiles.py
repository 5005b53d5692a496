"""Genuine NextAuth / Auth.js tokens with awkward profile claims (minted by the real npm
packages): stored sensibly or refused with a 401, never a 500."""

from __future__ import annotations

import httpx

from tests.integration.conftest import SECRET, Person, bearer
from tests.support.nextauth import mint_tokens

PROBLEM = "application/problem+json"


def _v4(claims: dict) -> dict:
    return {"kind": "v4", "secret": SECRET, "claims": claims, "maxAge": 600}


def _v5(claims: dict) -> dict:
    return {
        "kind": "v5",
        "secret": SECRET,
        "salt": "authjs.session-token",
        "claims": claims,
        "maxAge": 600,
    }


async def test_long_names_are_cut_and_long_pictures_ignored(api: httpx.AsyncClient) -> None:
    long_name, v5_person = Person.new(), Person.new()
    name = "N" * 150 + "\x00" + "ä" * 150
    picture = "https://avatars.example/" + "p" * 3000
    v4, v5 = mint_tokens(
        [
            _v4(long_name.claims(name=name, picture=picture, sid="s" * 500)),
            _v5(v5_person.claims(name="x" * 5000, picture="data:image/png;base64," + "A" * 9000)),
        ]
    )
    for token, person, expected_name in (
        (v4, long_name, ("N" * 150 + "ä" * 150)[:200]),
        (v5, v5_person, "x" * 200),
    ):
        me = await api.get("/api/v1/me", headers=bearer(token))
        assert me.status_code == 200, me.text
        assert me.json()["email"] == person.email
        assert me.json()["name"] == expected_name
        assert me.json()["image"] is None
        session = await api.get("/api/auth/session", headers=bearer(token))
        assert session.status_code == 200, session.text
        assert session.json()["user"]["name"] == expected_name
        # The same token again finds the same session (its long sid was made to fit).
        assert (await api.get("/api/v1/me", headers=bearer(token))).json() == me.json()


async def test_a_fitting_picture_is_kept(api: httpx.AsyncClient) -> None:
    person = Person.new()
    picture = "https://avatars.example/" + "p" * 2000
    (token,) = mint_tokens([_v5(person.claims(picture=picture))])
    me = await api.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json()["image"] == picture


async def test_unusable_claims_are_refused_with_401(api: httpx.AsyncClient) -> None:
    person = Person.new()
    bad_claims = [
        {"email": "a" * 320 + "@example.com", "name": "Too long an address"},
        {"email": person.email, "name": 12345},
        {"email": person.email, "name": {"first": "Ada"}},
        {"email": person.email, "picture": ["https://avatars.example/a.png"]},
        {"email": "not\x00an@example.com"},
        {"email": None},
    ]
    tokens = mint_tokens([_v4(claims) for claims in bad_claims] + [_v5(bad_claims[1])])
    tokens += mint_tokens(
        [{"kind": "hs256", "secret": SECRET, "claims": {**person.claims(), "exp": 1e20}}]
    )
    for claims, token in zip([*bad_claims, bad_claims[1], "far exp"], tokens, strict=True):
        refused = await api.get("/api/v1/me", headers=bearer(token))
        assert refused.status_code == 401, (claims, refused.text)
        assert refused.headers["content-type"] == PROBLEM
        session = await api.get("/api/auth/session", headers=bearer(token))
        assert session.status_code == 200 and session.json() == {}, claims
        cookie = await api.get(
            "/api/auth/session", headers={"Cookie": f"next-auth.session-token={token}"}
        )
        assert cookie.status_code == 200 and cookie.json() == {}, claims
    # A null name or picture is simply no name or picture.
    (plain,) = mint_tokens([_v4({"email": person.email, "name": None, "picture": None})])
    assert (await api.get("/api/v1/me", headers=bearer(plain))).status_code == 200
