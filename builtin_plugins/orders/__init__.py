"""Orders: checkout turns a buyer's holds into an order, payment turns it into tickets."""

from pathlib import Path

from kernel.contracts import Permission
from kernel.markers import hookimpl
from kernel.plugin_metadata import PluginCategory, PluginMetadata

METADATA = PluginMetadata(
    slug="orders",
    name="Orders",
    version="0.1.0",
    category=PluginCategory.TICKETING,
    required=True,
    description="Checkout, orders and their lifecycle, payments through the payments hook.",
)


@hookimpl
def ticketing_permissions():
    return (
        Permission("orders:view", "See the organization's orders", ("organizer",)),
        Permission("orders:manage", "Mark orders paid, cancel them", ("organizer",)),
    )


@hookimpl
def ticketing_orm_models():
    from builtin_plugins.orders import models

    return [models.Order, models.OrderLine, models.OrderTransition, models.Payment]


@hookimpl
def ticketing_migration_location():
    return str(Path(__file__).parent / "migrations")
