"""Email: the buyer's order confirmation, with the tickets attached, and invitations to
join an organization, sent over SMTP.

When an order is paid (the ``order.paid`` outbox event, written in the same transaction
as the payment) the buyer gets one email: the order code, the event, a line per ticket,
a signed link that opens the order without an account, and every ticket in one PDF.
When an admin invites an address or resends the invitation
(``organization.invitation_sent``), the invitee gets one email per send with the link to
accept it (identity, a required plugin, opens the link through its public face).
Settings come from the environment (:mod:`.settings`); without ``TICKETING_SMTP_HOST``
messages are written to a local directory instead of sent. An organization may send
through its own SMTP server instead (the plugin's settings, :mod:`.organization_smtp`).
"""

from pathlib import Path

from builtin_plugins.notifications_email.organization_settings import SETTINGS_SCHEMA
from sdk import PluginCategory, PluginMetadata, hookimpl

METADATA = PluginMetadata(
    slug="email",
    name="Email",
    version="0.1.0",
    category=PluginCategory.NOTIFICATIONS,
    description="Order confirmations with the tickets attached, and invitations, over SMTP.",
    settings_schema=SETTINGS_SCHEMA,
    depends_on=("identity",),
)


@hookimpl
def ticketing_orm_models():
    from builtin_plugins.notifications_email.models import SentEmail

    return [SentEmail]


@hookimpl
def ticketing_migration_location():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def ticketing_event_subscriptions():
    from builtin_plugins.notifications_email import confirmation, invitation

    return [*confirmation.subscriptions(), *invitation.subscriptions()]


@hookimpl
def ticketing_startup(kernel):
    from builtin_plugins.notifications_email.transport import mailer

    mailer(kernel)  # settings are checked, and the lack of SMTP announced, at start-up


@hookimpl
async def ticketing_plugin_purge(organization_id, session):
    from builtin_plugins.notifications_email.purge import purge

    await purge(session, organization_id)
