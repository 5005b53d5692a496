"""Small-group suppression for the demographics report: pure functions, no database.

A cell is one group (a dimension's value) with two counts of people: attendees and
buyers. With ``k`` the minimum group size:

(a) a cell with fewer than ``k`` attendees or buyers is suppressed;
(b)+(c) the suppressed cells of a dimension are also shown summed, as one ``other``
    bucket, and the total is the shown cells plus that bucket. So that neither the
    bucket nor "total minus the shown cells" can give a small group away, more cells
    are suppressed, smallest first, until what is suppressed adds up to ``k`` or more
    (in both counts); one suppressed cell thus always takes another with it. When even
    every cell together is fewer than ``k``, the bucket and the total are suppressed too.

``forced`` values are suppressed whatever their size (the organization-wide report
suppresses every value some event's report suppressed, see :mod:`.demographics_report`),
and ``hide_other`` suppresses the bucket and the total.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Cell:
    value: str
    attendees: int
    buyers: int


@dataclass(frozen=True, slots=True)
class Shown:
    """A figure as reported: ``None`` counts when suppressed."""

    value: str | None
    attendees: int | None
    buyers: int | None
    suppressed: bool


@dataclass(frozen=True, slots=True)
class DimensionFigures:
    dimension: str
    cells: list[Shown]
    other: Shown  # the suppressed cells together
    total: Shown  # the shown cells plus ``other``; suppressed with it

    @property
    def suppressed_values(self) -> set[str]:
        return {cell.value for cell in self.cells if cell.suppressed and cell.value is not None}


def _small(attendees: int, buyers: int, k: int) -> bool:
    return attendees < k or buyers < k


def suppressed_values(cells: Iterable[Cell], k: int, forced: Collection[str] = ()) -> set[str]:
    """The values to suppress: small ones and ``forced`` ones, then the smallest others
    until the suppressed cells add up to at least ``k`` people in both counts."""
    cells = list(cells)
    hidden = {cell.value for cell in cells if _small(cell.attendees, cell.buyers, k)}
    hidden |= {cell.value for cell in cells if cell.value in forced}
    shown = sorted(
        (cell for cell in cells if cell.value not in hidden),
        key=lambda cell: (cell.attendees, cell.buyers, cell.value),
    )
    while hidden and shown:
        attendees = sum(cell.attendees for cell in cells if cell.value in hidden)
        buyers = sum(cell.buyers for cell in cells if cell.value in hidden)
        if not _small(attendees, buyers, k):
            break
        hidden.add(shown.pop(0).value)
    return hidden


def dimension_figures(
    dimension: str,
    cells: Iterable[Cell],
    k: int,
    *,
    forced: Collection[str] = (),
    hide_other: bool = False,
) -> DimensionFigures:
    cells = sorted(cells, key=lambda cell: cell.value)
    hidden = suppressed_values(cells, k, forced)
    other_attendees = sum(cell.attendees for cell in cells if cell.value in hidden)
    other_buyers = sum(cell.buyers for cell in cells if cell.value in hidden)
    other_hidden = bool(hidden) and (hide_other or _small(other_attendees, other_buyers, k))
    shown_attendees = sum(cell.attendees for cell in cells if cell.value not in hidden)
    shown_buyers = sum(cell.buyers for cell in cells if cell.value not in hidden)
    if other_hidden:
        other = Shown(None, None, None, True)
        total = Shown(None, None, None, True)
    else:
        other = Shown(None, other_attendees, other_buyers, False)
        total = Shown(None, shown_attendees + other_attendees, shown_buyers + other_buyers, False)
    return DimensionFigures(
        dimension=dimension,
        cells=[
            Shown(cell.value, None, None, True)
            if cell.value in hidden
            else Shown(cell.value, cell.attendees, cell.buyers, False)
            for cell in cells
        ],
        other=other,
        total=total,
    )
