"""What the demographics report answers, in JSON or as CSV rows."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from builtin_plugins.analytics.suppression import DimensionFigures, Shown
from sdk.exports import csv_text


class Figure(BaseModel):
    attendees: int | None = Field(description="people holding tickets; null: suppressed")
    buyers: int | None = Field(description="people who bought them; null: suppressed")
    suppressed: bool


class GroupFigure(Figure):
    value: str


class DimensionOut(BaseModel):
    dimension: str = Field(description="country, age_band or buyer_kind")
    groups: list[GroupFigure]
    other: Figure = Field(description="the suppressed groups together")
    total: Figure = Field(description="the shown groups plus other")


class DemographicsOut(BaseModel):
    event_id: uuid.UUID | None = Field(description="null: the whole organization")
    k: int = Field(description="groups of fewer people than this are suppressed")
    dimensions: list[DimensionOut]


def _figure(shown: Shown) -> Figure:
    return Figure(attendees=shown.attendees, buyers=shown.buyers, suppressed=shown.suppressed)


def demographics_out(
    event_id: uuid.UUID | None, k: int, figures: list[DimensionFigures]
) -> DemographicsOut:
    return DemographicsOut(
        event_id=event_id,
        k=k,
        dimensions=[
            DimensionOut(
                dimension=dimension.dimension,
                groups=[
                    GroupFigure(value=cell.value or "", **_figure(cell).model_dump())
                    for cell in dimension.cells
                ],
                other=_figure(dimension.other),
                total=_figure(dimension.total),
            )
            for dimension in figures
        ],
    )


COLUMNS = ("dimension", "row", "value", "attendees", "buyers", "suppressed")


def to_csv(report: DemographicsOut) -> str:
    """One line per group, then the dimension's ``other`` and ``total`` (``row`` says
    which); suppressed counts are empty."""
    lines = []

    def line(dimension: str, row: str, value: str, figure: Figure) -> None:
        suppressed = "true" if figure.suppressed else "false"
        lines.append([dimension, row, value, figure.attendees, figure.buyers, suppressed])

    for dimension in report.dimensions:
        for group in dimension.groups:
            line(dimension.dimension, "group", group.value, group)
        line(dimension.dimension, "other", "", dimension.other)
        line(dimension.dimension, "total", "", dimension.total)
    return csv_text(COLUMNS, lines)
