"""The price adjuster of a promo code: a percentage or a fixed amount off each ticket.

Stage ``DISCOUNT``, code ``promo-code``: it runs after every ``DYNAMIC`` change and, within
the stage, after ``early-bird`` (adjusters of one stage run by code), so a percentage is
taken of the price the buyer would otherwise pay.

* Percentage: ``round(unit_price * percent_off / 10000)`` minor units off, rounded half
  to even (banker's rounding: a discount of exactly half a cent goes to the even cent,
  so over many tickets neither buyer nor organizer is favoured).
* Fixed: ``amount_off`` per ticket; the kernel stops the price at zero. A fixed code in
  another currency than the line's does not apply (it is never converted).
* Cap: an organization may set ``max_discount_percent`` (the plugin's settings); no
  code then takes more than that percentage of the price, rounded the same way, and the
  label says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import ClassVar

from builtin_plugins.promotions.terms import PromoTerms
from sdk import PriceAdjustment, PriceStage, PricingContext

ADJUSTER_CODE = "promo-code"
BASIS_POINTS = 10_000
# ISO 4217 minor-unit exponents that are not 2, for labels only (amounts stay integers).
_EXPONENTS = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND",
         "VUV", "XAF", "XOF", "XPF"),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}  # fmt: skip


def percent_discount(unit_price: int, percent_off: int) -> int:
    """``percent_off`` basis points of ``unit_price`` minor units, rounded half to even."""
    exact = Decimal(unit_price) * Decimal(percent_off) / Decimal(BASIS_POINTS)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def percent_label(percent_off: int) -> str:
    """Basis points as a percentage without trailing zeros: 2000 -> ``20%``, 1250 -> ``12.5%``."""
    whole, rest = divmod(percent_off, 100)
    return f"{whole}%" if not rest else f"{whole}.{rest:02d}".rstrip("0") + "%"


def money_label(amount: int, currency: str) -> str:
    """Minor units in the currency's major unit: 500 EUR -> ``5.00 EUR``, 500 JPY -> ``500 JPY``."""
    exponent = _EXPONENTS.get(currency, 2)
    if exponent == 0:
        return f"{amount} {currency}"
    major, minor = divmod(amount, 10**exponent)
    return f"{major}.{minor:0{exponent}d} {currency}"


@dataclass(frozen=True, slots=True)
class PromoDiscount:
    """The :class:`~kernel.contracts.PriceAdjuster` of one code the pricing hook found
    valid for the context's event, ticket type and instant."""

    stage: ClassVar[PriceStage] = PriceStage.DISCOUNT
    code: ClassVar[str] = ADJUSTER_CODE

    terms: PromoTerms
    max_percent: int | None = None  # the organization's cap, in percent

    @property
    def label(self) -> str:
        terms = self.terms
        if terms.percent_off is not None:
            return f"Promo code {terms.code}: -{percent_label(terms.percent_off)}"
        assert terms.amount_off is not None and terms.currency is not None
        return f"Promo code {terms.code}: -{money_label(terms.amount_off, terms.currency)}"

    def adjust(self, context: PricingContext, unit_price: int) -> PriceAdjustment | None:
        terms = self.terms
        if terms.percent_off is not None:
            amount = percent_discount(unit_price, terms.percent_off)
        elif terms.amount_off is not None and terms.currency == context.currency:
            amount = terms.amount_off
        else:
            return None
        label = self.label
        if self.max_percent is not None:
            cap = percent_discount(unit_price, self.max_percent * 100)
            if amount > cap:
                amount, label = cap, f"{label} (at most {self.max_percent}%)"
        return PriceAdjustment(self.stage, self.code, label, -amount)
