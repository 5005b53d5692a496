"""The hooks a remote plugin may implement: what is sent, and what answer is accepted.

Each supported hook has a small JSON answer schema (pydantic, bounded) and maps a
validated answer onto the hook's contract types. A hook not listed here cannot be
registered: its answer would be objects the kernel calls, not data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import to_jsonable_python

from kernel.contracts.checkout import CheckoutVeto
from kernel.contracts.pricing import PriceAdjustment, PriceStage, PricingContext

Code = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
Label = Annotated[str, Field(max_length=200)]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AdjustmentAnswer(_Answer):
    """One change of the unit price: a fixed ``amount`` or a ``percent`` of the running
    price (negative: a discount), never below zero."""

    stage: Literal["dynamic", "discount", "fee"]
    code: Code
    label: Label = ""
    amount: int | None = Field(None, ge=-10_000_000, le=10_000_000)
    percent: float | None = Field(None, ge=-100, le=1000)

    @model_validator(mode="after")
    def _one_change(self) -> AdjustmentAnswer:
        if (self.amount is None) == (self.percent is None):
            raise ValueError("give exactly one of amount and percent")
        return self


class AdjustersAnswer(_Answer):
    adjustments: list[AdjustmentAnswer] = Field(default_factory=list, max_length=20)


class VetoAnswer(_Answer):
    code: Code
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class ValidateAnswer(_Answer):
    vetoes: list[VetoAnswer] = Field(default_factory=list, max_length=20)


@dataclass(frozen=True, slots=True)
class RemoteAdjuster:
    """A :class:`~kernel.contracts.pricing.PriceAdjuster` built from a remote answer."""

    stage: PriceStage
    code: str
    label: str
    amount: int | None
    percent: float | None

    def adjust(self, context: PricingContext, unit_price: int) -> PriceAdjustment | None:
        if self.amount is not None:
            change = self.amount
        elif self.percent is not None:
            change = round(unit_price * self.percent / 100)
        else:  # an adjustment answer gives exactly one of the two
            return None
        change = max(change, -unit_price)  # never a negative price
        if change == 0:
            return None
        return PriceAdjustment(stage=self.stage, code=self.code, label=self.label, amount=change)


def _adjusters(answer: AdjustersAnswer) -> list[RemoteAdjuster]:
    return [
        RemoteAdjuster(PriceStage[a.stage.upper()], a.code, a.label, a.amount, a.percent)
        for a in answer.adjustments
    ]


def _vetoes(answer: ValidateAnswer) -> list[CheckoutVeto] | None:
    return [CheckoutVeto(code=v.code, reason=v.reason) for v in answer.vetoes] or None


@dataclass(frozen=True, slots=True)
class RemoteHook:
    """How one hook travels: the arguments sent, the answer model, its contract form."""

    name: str
    arguments: tuple[str, ...]
    answer: type[_Answer]
    to_contract: Callable[[Any], Any]
    #: What the hook answers when the plugin is treated as absent (policy ``skip``).
    absent: Any = None

    def payload(self, kwargs: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        body = {name: kwargs[name] for name in self.arguments}
        body["ctx"] = ctx
        return to_jsonable_python(body, fallback=str)

    def parse(self, data: Any) -> Any:
        """The contract answer of a remote's JSON answer; raises ValidationError."""
        return self.to_contract(self.answer.model_validate(data))


SUPPORTED: dict[str, RemoteHook] = {
    hook.name: hook
    for hook in (
        RemoteHook("ticketing_pricing_adjusters", ("context",), AdjustersAnswer, _adjusters, ()),
        RemoteHook("ticketing_checkout_validate", ("cart",), ValidateAnswer, _vetoes, None),
    )
}

__all__ = ["SUPPORTED", "RemoteHook", "ValidationError"]
