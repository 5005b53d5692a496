"""The manual payment provider: bank transfer or pay at the door (see :mod:`.provider`).

Orders paid this way stay ``pending_payment`` until an organizer marks them paid.
"""

from builtin_plugins.payments_manual.provider import ManualProvider
from sdk import PluginCategory, PluginMetadata, hookimpl

METADATA = PluginMetadata(
    slug="payments-manual",
    name="Bank transfer / pay at the door",
    version="0.1.0",
    category=PluginCategory.PAYMENTS,
    description="Buyers pay outside the platform; organizers mark orders paid by hand.",
)

_PROVIDER = ManualProvider()


@hookimpl
def ticketing_payment_providers():
    return [_PROVIDER]
