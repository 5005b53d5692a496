"""Bank transfer / pay at the door: no money moves through the platform.

The buyer gets a reference to put on the transfer (or to show at the door); the
organizer marks the order paid by hand once the money arrived, and refunds by hand too.
"""

from __future__ import annotations

import uuid

from sdk import PaymentRequest, PaymentResult, PluginContext, RefundRequest, RefundResult

KEY = "manual"
INSTRUCTIONS = (
    "Transfer the amount to the organizer's bank account with the reference below, or pay "
    "at the door quoting it. Your tickets are issued once the organizer confirms payment."
)


class ManualProvider:
    key = KEY
    display_name = "Bank transfer / pay at the door"
    calls_out = False  # a local answer: started inside the checkout transaction

    async def create_payment(self, request: PaymentRequest, ctx: PluginContext) -> PaymentResult:
        reference = f"manual-{uuid.uuid4()}"
        return PaymentResult(
            provider=KEY,
            reference=reference,
            status="pending",
            client_data={"instructions": INSTRUCTIONS, "reference": reference},
        )

    async def refund(self, request: RefundRequest, ctx: PluginContext) -> RefundResult:
        """Done at once: the organizer pays the money back outside the platform.

        The reference comes from the idempotency key (``refund:<refund id>`` ->
        ``manual-refund-<refund id>``), so asking again answers the same refund.
        """
        refund_id = request.idempotency_key.removeprefix("refund:")
        return RefundResult(
            provider=KEY, reference=f"manual-refund-{refund_id}", status="succeeded"
        )
