"""What ``/metrics`` counts of the business as it happens: holds placed and how they end,
orders paid and their revenue, refunds and what they gave back, and the door's scans,
each by what an operator splits it by (currency, outcome)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from kernel.db import Database
from tests.integration.orders.refund_support import (  # noqa: F401 -- fixtures
    paid_order,
    refund,
    shop_url_fixture,
)
from tests.integration.orders.support import (  # noqa: F401 -- fixtures
    STANDARD_PRICE,
    Buyer,
    http_fixture,
    open_shop,
    take,
)
from tests.integration.ticketing.checkin_support import lists_url, make_list, scan
from tests.support.metrics import metric_value


class Metrics:
    """The app's counts now, and what changed since."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.before = ""

    async def read(self) -> str:
        answer = await self.http.get("/metrics")
        assert answer.status_code == 200
        return answer.text

    async def start(self) -> None:
        self.before = await self.read()

    async def changes(self, *series: tuple[str, dict[str, str]]) -> list[float]:
        now = await self.read()
        return [
            metric_value(now, name, **labels) - metric_value(self.before, name, **labels)
            for name, labels in series
        ]


async def test_a_sale_its_refund_and_its_scans_are_counted(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    metrics = Metrics(http)
    await metrics.start()

    order = await paid_order(http, shop, standard=2)  # one hold of two, marked paid
    currency = order.body["currency"]
    abandoned = Buyer.anonymous()
    left = await take(http, shop, abandoned, shop.standard)
    released = await http.delete(
        f"/api/v1/events/{shop.event_id}/holds/{left['id']}",
        params={"cart_token": abandoned.cart_token},
    )
    assert released.status_code == 204, released.text
    door = await make_list(http, shop.venue)
    admitted = await scan(http, shop.venue, door["id"], order.tickets[0]["code"])
    assert admitted.status_code == 201, admitted.text
    again = await scan(http, shop.venue, door["id"], order.tickets[0]["code"])
    assert again.status_code == 409, again.text
    now = datetime.now(UTC).isoformat()
    offline = await http.post(
        f"{lists_url(shop.venue)}/{door['id']}/offline-scans",
        json={
            "device_id": "door-phone",
            "scans": [
                {"scan_id": "1", "code": order.tickets[1]["code"], "scanned_at": now},
                {"scan_id": "2", "code": "NOT-A-TICKET-CODE", "scanned_at": now},
            ],
        },
        headers=shop.venue.admin,
    )
    assert offline.status_code == 200, offline.text
    refunded = await refund(http, shop, order.id, ticket_ids=[order.tickets[1]["id"]])
    assert refunded.status_code == 201 and refunded.json()["amount"] == STANDARD_PRICE

    assert await metrics.changes(
        ("ticketing_holds_placed_total", {}),
        ("ticketing_holds_ended_total", {"outcome": "converted"}),
        ("ticketing_holds_ended_total", {"outcome": "released"}),
        ("ticketing_orders_paid_total", {"currency": currency}),
        ("ticketing_revenue_minor_units_total", {"currency": currency}),
        ("ticketing_checkin_scans_total", {"outcome": "admitted", "mode": "online"}),
        ("ticketing_checkin_scans_total", {"outcome": "already_checked_in", "mode": "online"}),
        ("ticketing_checkin_scans_total", {"mode": "offline"}),
        ("ticketing_checkin_scans_total", {"outcome": "unknown", "mode": "offline"}),
        ("ticketing_refunds_total", {"currency": currency}),
        ("ticketing_refunded_minor_units_total", {"currency": currency}),
    ) == [2, 1, 1, 1, order.total, 1, 1, 2, 1, 1, STANDARD_PRICE]
