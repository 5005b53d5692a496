"""The identity plugin's singletons, built once at start-up from its settings."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from builtin_plugins.identity import two_factor
from builtin_plugins.identity.access_tokens import AccessTokens
from builtin_plugins.identity.attempt_limits import AttemptWindow
from builtin_plugins.identity.settings import IdentitySettings
from sdk import Kernel
from sdk.secrets import local_secret, random_secret

SERVICE_KEY = "identity"


@dataclass(slots=True)
class IdentityServices:
    kernel: Kernel
    settings: IdentitySettings
    nextauth_secrets: list[str]  # the current one first, then previous ones
    service_key: str
    access_tokens: AccessTokens
    signin_failures: AttemptWindow  # refused sign-ins per client address
    two_factor_disable_attempts: AttemptWindow  # codes tried to turn 2FA off, per user


def build_identity_services(
    kernel: Kernel, settings: IdentitySettings | None = None
) -> IdentityServices:
    settings = settings or IdentitySettings()
    environment, data_dir = kernel.settings.environment, kernel.settings.data_dir
    current = settings.nextauth_secret or local_secret(
        data_dir, "NEXTAUTH_SECRET", environment=environment, generate=random_secret
    )
    secrets = [current, *settings.nextauth_previous_secrets]
    service_key = settings.service_key or local_secret(
        data_dir, "TICKETING_SERVICE_KEY", environment=environment, generate=random_secret
    )
    return IdentityServices(
        kernel=kernel,
        settings=settings,
        nextauth_secrets=secrets,
        service_key=service_key,
        access_tokens=AccessTokens(secrets=secrets, ttl=settings.access_token_ttl),
        signin_failures=AttemptWindow(
            kernel.cache,
            "signin-failures",
            settings.signin_client_max_failures,
            settings.signin_client_window_seconds,
        ),
        two_factor_disable_attempts=AttemptWindow(
            kernel.cache,
            "two-factor-disable",
            two_factor.MAX_CHALLENGE_ATTEMPTS,
            int(two_factor.CHALLENGE_TTL.total_seconds()),
        ),
    )


def services_of(request: Request) -> IdentityServices:
    return request.app.state.kernel.services[SERVICE_KEY]


async def identity_services(request: Request) -> IdentityServices:
    """The dependency form (``async``: FastAPI runs plain ``def`` ones in a thread pool)."""
    return services_of(request)
