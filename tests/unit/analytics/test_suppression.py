"""Small-group suppression: primary, complementary (until what is hidden adds up to k),
the other bucket and total, forced values, and an exhaustive check that total minus the
shown cells never gives a small group away."""

from __future__ import annotations

import itertools

from builtin_plugins.analytics.suppression import Cell, dimension_figures, suppressed_values

K = 5


def cells(**sizes: int) -> list[Cell]:
    return [Cell(value, size, size) for value, size in sizes.items()]


def test_nothing_small_nothing_hidden() -> None:
    figures = dimension_figures("country", cells(DE=9, FR=5), K)
    assert [c.attendees for c in figures.cells] == [9, 5]
    assert figures.other.attendees == 0 and not figures.other.suppressed
    assert figures.total.attendees == 14


def test_one_small_cell_takes_the_next_smallest_with_it() -> None:
    assert suppressed_values(cells(DE=9, FR=6, IT=2), K) == {"IT", "FR"}
    figures = dimension_figures("country", cells(DE=9, FR=6, IT=2), K)
    assert figures.other.attendees == 8 and figures.total.attendees == 17


def test_small_cells_adding_up_to_k_need_no_more() -> None:
    assert suppressed_values(cells(DE=9, FR=3, IT=2), K) == {"IT", "FR"}


def test_two_small_cells_below_k_together_take_more() -> None:
    assert suppressed_values(cells(DE=9, NL=7, FR=1, IT=2), K) == {"FR", "IT", "NL"}


def test_everything_small_hides_other_and_total() -> None:
    figures = dimension_figures("country", cells(DE=2, FR=1), K)
    assert all(c.suppressed for c in figures.cells)
    assert figures.other.suppressed and figures.total.suppressed
    assert figures.total.attendees is None


def test_a_cell_small_in_buyers_only_is_suppressed() -> None:
    figures = dimension_figures("country", [Cell("DE", 8, 2), Cell("FR", 9, 9)], K)
    assert all(c.suppressed for c in figures.cells)
    assert figures.other.buyers == 11


def test_forced_values_and_hidden_other() -> None:
    figures = dimension_figures("country", cells(DE=9, FR=6, IT=8), K, forced={"FR"})
    assert {c.value for c in figures.cells if c.suppressed} == {"FR"}
    hidden = dimension_figures("country", cells(DE=9, FR=6), K, forced={"FR"}, hide_other=True)
    assert hidden.other.suppressed and hidden.total.suppressed


def test_no_total_minus_shown_is_a_small_count() -> None:
    """Every dimension of up to four cells of sizes 1..8: what the shown figures leave
    of the total is 0 or at least k, and every shown cell is at least k."""
    for n in range(1, 5):
        for sizes in itertools.product(range(1, 9), repeat=n):
            figures = dimension_figures("d", [Cell(f"v{i}", s, s) for i, s in enumerate(sizes)], K)
            shown = [c.attendees for c in figures.cells if not c.suppressed]
            assert all(size is not None and size >= K for size in shown)
            if not figures.total.suppressed:
                left = figures.total.attendees - sum(shown)
                assert left == 0 or left >= K, sizes
            else:
                assert sum(sizes) < K and not shown
