"""Identity settings; README's settings table documents each."""

from datetime import timedelta
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sdk import env_var


class IdentitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    nextauth_secret: str | None = Field(None, validation_alias=env_var("NEXTAUTH_SECRET"))
    nextauth_previous_secrets: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=env_var("NEXTAUTH_SECRET_PREVIOUS")
    )
    service_key: str | None = Field(None, validation_alias=env_var("TICKETING_SERVICE_KEY"))
    access_token_minutes: int = Field(
        15, ge=1, le=1440, validation_alias=env_var("TICKETING_ACCESS_TOKEN_MINUTES")
    )
    refresh_token_days: int = Field(
        30, ge=1, validation_alias=env_var("TICKETING_REFRESH_TOKEN_DAYS")
    )
    session_days: int = Field(30, ge=1, validation_alias=env_var("TICKETING_SESSION_DAYS"))
    login_max_failures: int = Field(
        5, ge=1, validation_alias=env_var("TICKETING_LOGIN_MAX_FAILURES")
    )
    login_lockout_minutes: int = Field(
        15, ge=1, validation_alias=env_var("TICKETING_LOGIN_LOCKOUT_MINUTES")
    )
    signin_client_max_failures: int = Field(
        30, ge=0, validation_alias=env_var("TICKETING_SIGNIN_CLIENT_MAX_FAILURES")
    )
    signin_client_window_seconds: int = Field(
        900, ge=1, validation_alias=env_var("TICKETING_SIGNIN_CLIENT_WINDOW_SECONDS")
    )
    token_leeway_seconds: int = Field(
        30, ge=0, le=300, validation_alias=env_var("TICKETING_TOKEN_LEEWAY_SECONDS")
    )
    invitation_days: int = Field(
        7, ge=1, le=90, validation_alias=env_var("TICKETING_INVITATION_DAYS")
    )
    invitation_pending_limit: int = Field(
        100, ge=1, le=10_000, validation_alias=env_var("TICKETING_INVITATION_PENDING_LIMIT")
    )
    invitation_max_sends: int = Field(
        5, ge=1, le=100, validation_alias=env_var("TICKETING_INVITATION_MAX_SENDS")
    )
    invitation_accept_url: str = Field(
        "http://localhost:3000/invitations/accept",
        max_length=2000,
        pattern=r"^https?://",
        validation_alias=env_var("TICKETING_INVITATION_ACCEPT_URL"),
    )

    @field_validator("nextauth_previous_secrets", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @property
    def invitation_ttl(self) -> timedelta:
        return timedelta(days=self.invitation_days)

    @property
    def access_token_ttl(self) -> timedelta:
        return timedelta(minutes=self.access_token_minutes)

    @property
    def refresh_token_ttl(self) -> timedelta:
        return timedelta(days=self.refresh_token_days)

    @property
    def session_ttl(self) -> timedelta:
        return timedelta(days=self.session_days)
