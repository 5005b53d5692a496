"""Settings of the email plugin; README's settings table documents each."""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path
from typing import Literal

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sdk import env_var

DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class EmailSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    smtp_host: str | None = Field(
        None, max_length=253, validation_alias=env_var("TICKETING_SMTP_HOST")
    )
    smtp_port: int | None = Field(
        None, ge=1, le=65535, validation_alias=env_var("TICKETING_SMTP_PORT")
    )
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls", validation_alias=env_var("TICKETING_SMTP_SECURITY")
    )
    smtp_username: str | None = Field(None, validation_alias=env_var("TICKETING_SMTP_USERNAME"))
    smtp_password: SecretStr | None = Field(
        None, validation_alias=env_var("TICKETING_SMTP_PASSWORD")
    )
    smtp_ca_file: Path | None = Field(None, validation_alias=env_var("TICKETING_SMTP_CA_FILE"))
    smtp_timeout_seconds: float = Field(
        30, gt=0, le=300, validation_alias=env_var("TICKETING_SMTP_TIMEOUT_SECONDS")
    )
    email_from: str = Field(
        "Tickets <tickets@localhost>", validation_alias=env_var("TICKETING_EMAIL_FROM")
    )
    public_url: AnyHttpUrl = Field(
        AnyHttpUrl("http://127.0.0.1:8000"), validation_alias=env_var("TICKETING_PUBLIC_URL")
    )

    @field_validator("smtp_host", "smtp_username", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("email_from")
    @classmethod
    def _an_address(cls, value: str) -> str:
        _, address = parseaddr(value)
        if "@" not in address:
            raise ValueError("TICKETING_EMAIL_FROM must be an address, e.g. 'Tickets <t@x.com>'")
        return value

    @property
    def port(self) -> int:
        return self.smtp_port or DEFAULT_PORTS[self.smtp_security]

    @property
    def from_domain(self) -> str:
        return parseaddr(self.email_from)[1].rsplit("@", 1)[1]

    @property
    def base_url(self) -> str:
        """The public URL links start with, without a trailing slash."""
        return str(self.public_url).rstrip("/")
