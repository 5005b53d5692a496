"""The tax of one line: net, tax and gross in integer minor units, rounded once.

The tax is computed on the line's total (unit price times quantity), never per unit and
summed, so three tickets of 9.99 at 19 % owe the tax of 29.97, and a cart's tax is the
sum of its lines' taxes with nothing rounded twice. All arithmetic is :class:`Decimal`;
the one rounding, to a whole minor unit, follows the organization's mode (half-even by
default, half-up on request).

* Price includes the tax (``inclusive``): the line's total is the gross;
  ``tax = round(gross * rate / (100 + rate))`` and ``net = gross - tax``.
* Price excludes the tax: the line's total is the net;
  ``tax = round(net * rate / 100)`` and ``gross = net + tax``.

A business buyer a rule does not tax (``exempt``, or ``reverse_charge`` across a border)
pays no tax: with an inclusive price they pay the price without the tax that was inside
it (``gross = net = total - tax``), with an exclusive one the price itself.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext

from builtin_plugins.taxes.models import BusinessTreatment, Rounding
from builtin_plugins.taxes.rules import Rule, normalize_country
from builtin_plugins.taxes.tax_ids import normalize_tax_id
from sdk import LineTax, TaxableParty

REVERSE_CHARGE_NOTE = "Reverse charge: VAT to be accounted for by the recipient"
EXEMPT_NOTE = "Tax exempt: business customer"

_MODES = {Rounding.HALF_EVEN: ROUND_HALF_EVEN, Rounding.HALF_UP: ROUND_HALF_UP}
_HUNDRED = Decimal(100)


def rate_text(rate: Decimal) -> str:
    """A rate as a plain decimal string without trailing zeros: ``"19"``, ``"7.25"``."""
    text = format(Decimal(rate).normalize(), "f")
    return "0" if Decimal(text) == 0 else text


def tax_amount(total: int, rate: Decimal, *, inclusive: bool, rounding: Rounding) -> int:
    """The tax of a line total at ``rate`` percent, rounded once to a whole minor unit."""
    with localcontext() as context:
        context.prec = 50  # exact enough that only a true half is ever a tie
        rate = Decimal(rate)
        base = Decimal(total) * rate
        exact = base / (_HUNDRED + rate) if inclusive else base / _HUNDRED
        return int(exact.quantize(Decimal(1), rounding=_MODES[rounding]))


def business_relief(rule: Rule, buyer: TaxableParty) -> str | None:
    """Why a business buyer pays no tax under ``rule`` (the note shown), or ``None``.

    ``reverse_charge`` needs a known buyer country other than the rule's; a rule for
    anywhere (no country) has no border to cross, so it charges.
    """
    if rule.b2b is BusinessTreatment.CHARGE or normalize_tax_id(buyer.tax_id) is None:
        return None
    if rule.b2b is BusinessTreatment.EXEMPT:
        return EXEMPT_NOTE
    country = normalize_country(buyer.country)
    if rule.country is not None and country is not None and country != rule.country:
        return REVERSE_CHARGE_NOTE
    return None


def line_tax(total: int, rule: Rule, buyer: TaxableParty, *, rounding: Rounding) -> LineTax:
    """The tax of a line of ``total`` minor units under ``rule`` for ``buyer``."""
    inclusive = rule.price_includes_tax
    tax = tax_amount(total, rule.rate, inclusive=inclusive, rounding=rounding)
    common = {"inclusive": inclusive, "rule": str(rule.id), "label": rule.name}
    note = business_relief(rule, buyer)
    if note is not None:
        paid = total - tax if inclusive else total
        return LineTax(net=paid, tax=0, gross=paid, rate="0", note=note, **common)
    if inclusive:
        return LineTax(net=total - tax, tax=tax, gross=total, rate=rate_text(rule.rate), **common)
    return LineTax(net=total, tax=tax, gross=total + tax, rate=rate_text(rule.rate), **common)
