"""Route access rules, used as FastAPI dependencies.

Every route declares exactly one rule (a meta-test walks the app to make sure):

* ``public`` -- anyone, no credential needed;
* ``public_or_signed_in`` -- anyone; the route recognizes a signed-in caller (their cart,
  their order), so a credential that is sent must be valid;
* ``signed_in`` -- any authenticated user; the dependency returns the :class:`Principal`;
* ``platform_admin`` -- a signed-in platform administrator;
* ``requires("events:create", ...)`` -- a member of the path's ``{organization_id}``
  holding every named permission. Someone who is not a member gets 404, exactly as if
  the organization did not exist; a member without the permission gets 403.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from kernel.contracts import Principal
from kernel.dependants import dependency_calls
from kernel.problems import Forbidden, NotFound, Unauthorized
from kernel.request_context import note_organization, note_user


async def authenticate(request: HTTPConnection) -> Principal | None:
    """Ask the authentication hook once per request (the answer is kept on the request)."""
    if not hasattr(request.state, "principal"):
        hooks = request.app.state.kernel.hooks
        request.state.principal = await hooks.call(
            "ticketing_authenticate",
            organization_id=None,  # who a credential names is platform-wide
            request=request,
        )
        if request.state.principal is not None:
            note_user(request.state.principal.user_id)  # for the request's log lines
    return request.state.principal


async def _signed_in(request: HTTPConnection) -> Principal:
    principal = await authenticate(request)
    if principal is None or principal.user_id is None:
        raise Unauthorized("Sign in first: send a bearer token or a session cookie.")
    return principal


async def organization_member(request: HTTPConnection, organization_id: uuid.UUID) -> Principal:
    """The signed-in member of ``organization_id`` the request acts as: 401 without
    credentials, 404 for anyone else, as if the organization did not exist."""
    principal = await _signed_in(request)
    if not principal.is_member(organization_id):
        raise NotFound(f"No organization {organization_id}.")
    note_organization(organization_id)  # for the request's log lines
    return principal


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class AccessRule:
    """Base of every declared rule; ``describe`` is what the API docs say about it and
    ``refusals`` the statuses it can answer with (declared for each route in the docs)."""

    def describe(self) -> str:
        raise NotImplementedError

    def refusals(self, method: str) -> dict[int, str]:
        return {}


class Public(AccessRule):
    async def __call__(self) -> None:
        return None

    def describe(self) -> str:
        return "public"


class PublicOrSignedIn(Public):
    """Anyone; a caller who sends a credential is recognized (``authenticate``), and a
    credential that does not hold is refused rather than ignored."""

    def describe(self) -> str:
        return "public (signed in when a credential is sent)"

    def refusals(self, method: str) -> dict[int, str]:
        found = {401: "A credential was sent and refused (expired, tampered, revoked)"}
        if method in UNSAFE_METHODS:
            found[403] = "Signed in with the session cookie but without its CSRF token"
        return found


class Authenticated(AccessRule):
    async def __call__(self, request: Request) -> Principal:
        return await _signed_in(request)

    def describe(self) -> str:
        return "signed in"

    def refusals(self, method: str) -> dict[int, str]:
        found = {401: "Not signed in, or the credential was refused"}
        if method in UNSAFE_METHODS:
            found[403] = "Signed in with the session cookie but without its CSRF token"
        return found


class OrganizationPermission(AccessRule):
    def __init__(self, *names: str) -> None:
        if not names:
            raise ValueError("name at least one permission")
        self.names = names

    async def __call__(self, request: Request, organization_id: uuid.UUID) -> Principal:
        principal = await organization_member(request, organization_id)
        if not principal.can(organization_id, *self.names):
            raise Forbidden(
                f"This needs {', '.join(self.names)} in the organization.",
                required=list(self.names),
            )
        return principal

    def describe(self) -> str:
        return " + ".join(self.names)

    def refusals(self, method: str) -> dict[int, str]:
        return {
            401: "Not signed in, or the credential was refused",
            403: f"A member without {' + '.join(self.names)}",
            404: "Not a member of the organization (as if it did not exist), or no such "
            "object in it",
        }


class PlatformPermission(AccessRule):
    """For callers acting for the platform rather than a user (e.g. the NextAuth server)."""

    def __init__(self, *names: str) -> None:
        self.names = names

    async def __call__(self, request: Request) -> Principal:
        principal = await authenticate(request)
        if principal is None:
            raise Unauthorized("This endpoint needs the platform's service credential.")
        if not all(name in principal.platform_permissions for name in self.names):
            raise Forbidden(f"This needs {', '.join(self.names)}.")
        return principal

    def describe(self) -> str:
        return "platform: " + " + ".join(self.names)

    def refusals(self, method: str) -> dict[int, str]:
        return {
            401: "No service credential, or a wrong one",
            403: f"A credential without {' + '.join(self.names)}",
        }


class PlatformAdministrator(Authenticated):
    """A signed-in user listed as a platform administrator (``ticketing admins grant``).

    Read from the database on every request, not from the credential: a revoked
    administrator loses the rule at once.
    """

    async def __call__(self, request: Request) -> Principal:
        from kernel.installations.admins import is_platform_admin

        principal = await _signed_in(request)
        async with request.app.state.kernel.lookups.sessions() as session:
            allowed = await is_platform_admin(session, principal.user_id)
        if not allowed:
            raise Forbidden("This needs a platform administrator.")
        return principal

    def describe(self) -> str:
        return "platform administrator"

    def refusals(self, method: str) -> dict[int, str]:
        return {**super().refusals(method), 403: "Not a platform administrator"}


def declared_rules(dependant: Any) -> list[AccessRule]:
    """The access rules a route's dependency tree declares (a route must declare one)."""
    return dependency_calls(dependant, AccessRule)


def describe_access(rules: list[AccessRule]) -> str:
    """What the OpenAPI document states as a route's ``x-access``: ``public``, ``signed
    in`` or the permissions, so clients and reviewers see it per endpoint."""
    return " and ".join(rule.describe() for rule in rules)


def public() -> Any:
    return Depends(Public())


def public_or_signed_in() -> Any:
    return Depends(PublicOrSignedIn())


def signed_in() -> Any:
    return Depends(Authenticated())


def platform_admin() -> Any:
    return Depends(PlatformAdministrator())


def requires(*names: str) -> Any:
    return Depends(OrganizationPermission(*names))
