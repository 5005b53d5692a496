"""The email plugin's transports: a real SMTP conversation with aiosmtpd on loopback
(STARTTLS with a certificate the client must trust, a login), and the local directory
used when no SMTP host is configured."""

from __future__ import annotations

import ssl
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import SimpleNamespace

import aiosmtplib
import pytest

from builtin_plugins.notifications_email.settings import EmailSettings
from builtin_plugins.notifications_email.transport import DirectoryMailer, SmtpMailer, mailer
from tests.support.smtp import make_certificate, password_check, smtp_server

FROM = "Tickets <tickets@shop.example>"


def message(to: str = "buyer@example.com") -> EmailMessage:
    built = EmailMessage()
    built["Subject"] = "Your tickets"
    built["From"] = FROM
    built["To"] = to
    built["Message-ID"] = "<order-confirmation.1234@shop.example>"
    built.set_content("Hello\n")
    return built


async def test_a_message_goes_over_starttls_with_a_login(tmp_path: Path) -> None:
    ca_file, server_tls = make_certificate(tmp_path)
    with smtp_server(
        tls_context=server_tls,
        require_starttls=True,
        auth_required=True,
        authenticator=password_check("mailer", "s3cret-passw0rd"),
    ) as smtp:
        settings = EmailSettings(
            smtp_host=smtp.host,
            smtp_port=smtp.port,
            smtp_security="starttls",
            smtp_username="mailer",
            smtp_password="s3cret-passw0rd",
            smtp_ca_file=ca_file,
            email_from=FROM,
        )
        await SmtpMailer(settings).send(message())

        (received,) = await smtp.inbox.wait_for("buyer@example.com")
        assert received.authenticated_as == "mailer"
        assert received.mail_from == "tickets@shop.example"
        assert received.message["Subject"] == "Your tickets"


async def test_a_wrong_password_or_an_untrusted_certificate_fails_the_send(tmp_path: Path) -> None:
    ca_file, server_tls = make_certificate(tmp_path)
    (tmp_path / "other").mkdir()
    other_ca, _ = make_certificate(tmp_path / "other")
    with smtp_server(
        tls_context=server_tls,
        require_starttls=True,
        auth_required=True,
        authenticator=password_check("mailer", "s3cret-passw0rd"),
    ) as smtp:
        base = {
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "smtp_username": "mailer",
            "email_from": FROM,
        }
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            await SmtpMailer(
                EmailSettings(**base, smtp_password="wrong", smtp_ca_file=ca_file)
            ).send(message())
        with pytest.raises(ssl.SSLCertVerificationError):
            await SmtpMailer(
                EmailSettings(**base, smtp_password="s3cret-passw0rd", smtp_ca_file=other_ca)
            ).send(message())
        assert smtp.inbox.to("buyer@example.com") == []


async def test_without_an_smtp_host_mail_is_written_to_the_data_directory(tmp_path: Path) -> None:
    kernel = SimpleNamespace(settings=SimpleNamespace(data_dir=tmp_path), services={})
    runtime = mailer(kernel)  # type: ignore[arg-type]
    assert isinstance(runtime.mailer, DirectoryMailer)

    await runtime.mailer.send(message())

    (written,) = (tmp_path / "mail").glob("*.eml")
    parsed = BytesParser(policy=policy.default).parsebytes(written.read_bytes())
    assert parsed["To"] == "buyer@example.com" and parsed["Subject"] == "Your tickets"
    assert mailer(kernel) is runtime  # built once per kernel
