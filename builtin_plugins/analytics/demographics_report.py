"""The attendee demographics report: people per group, small groups suppressed.

Threat model. A report reader (``reports:view``, or whoever an export is handed to)
must not single out a person: learn that a group of fewer than ``k`` people exists
with a given count, from one report or by subtracting figures of several. So:

* only whole events or the whole organization are reported: no day range, ticket type
  or other filter whose difference from another report would cut out a few people;
* counts are of people (keyed hashes of emails), not tickets: five tickets of one
  person are one;
* an event's report suppresses cells by :mod:`.suppression`: whatever is suppressed
  adds up to ``k`` or more, or the dimension's other bucket and total go too;
* the organization's report is each event's cells summed (people per event, so a
  person at two events counts twice), and suppresses every value any event's report
  suppressed, and its other bucket and total whenever some event's were: each figure
  it shows is a sum of figures the event reports show, so it tells nothing they do not;
* events hold disjoint groups, so subtracting two events' figures cuts out no group.

What is left: a report read twice tells the groups of the people who bought (or were
refunded) in between; a reader who saw one person buy between two reads learns their
group. Readers with ``reports:view`` see orders anyway by default; exports handed on
should be taken after sales end.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.analytics.demographic_models import DemographicMember
from builtin_plugins.analytics.demographic_values import DIMENSIONS
from builtin_plugins.analytics.suppression import Cell, DimensionFigures, dimension_figures

EventCells = dict[uuid.UUID, dict[str, list[Cell]]]  # event -> dimension -> cells


async def event_cells(
    session: AsyncSession, organization_id: uuid.UUID, event_id: uuid.UUID | None = None
) -> EventCells:
    """People with tickets left per event, dimension and value."""
    member = DemographicMember
    query = (
        select(
            member.event_id,
            member.dimension,
            member.value,
            func.count(func.distinct(member.person)).filter(member.role == "attendee"),
            func.count(func.distinct(member.person)).filter(member.role == "buyer"),
        )
        .where(member.organization_id == organization_id, member.tickets > 0)
        .group_by(member.event_id, member.dimension, member.value)
    )
    if event_id is not None:
        query = query.where(member.event_id == event_id)
    found: EventCells = defaultdict(lambda: defaultdict(list))
    for event, dimension, value, attendees, buyers in await session.execute(query):
        found[event][dimension].append(Cell(value, int(attendees), int(buyers)))
    return found


def event_figures(cells: dict[str, list[Cell]], k: int) -> list[DimensionFigures]:
    return [dimension_figures(name, cells.get(name, ()), k) for name in DIMENSIONS]


def organization_figures(cells: EventCells, k: int) -> list[DimensionFigures]:
    """Every event's cells summed; suppressed wherever an event's report suppressed."""
    figures = []
    for name in DIMENSIONS:
        summed: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        forced: set[str] = set()
        hide_other = False
        for by_dimension in cells.values():
            event = dimension_figures(name, by_dimension.get(name, ()), k)
            forced |= event.suppressed_values
            hide_other = hide_other or event.other.suppressed
            for cell in by_dimension.get(name, ()):
                summed[cell.value][0] += cell.attendees
                summed[cell.value][1] += cell.buyers
        org_cells = [Cell(value, a, b) for value, (a, b) in summed.items()]
        figures.append(dimension_figures(name, org_cells, k, forced=forced, hide_other=hide_other))
    return figures


async def demographics(
    session: AsyncSession, organization_id: uuid.UUID, event_id: uuid.UUID | None, k: int
) -> list[DimensionFigures]:
    """One event's report, or the organization's when ``event_id`` is ``None``."""
    cells = await event_cells(session, organization_id, event_id)
    if event_id is not None:
        return event_figures(cells.get(event_id, {}), k)
    return organization_figures(cells, k)
