"""When the waiting line is due while a rollback has not recovered."""
import pytest

from helpers.measure import FIRST_WAIT_LINE_S, WAIT_LINE_EVERY_S, WaitLines

pytestmark = pytest.mark.unit


def due_at(lines: WaitLines, times: list[float]) -> list[float]:
    return [t for t in times if lines.due(t)]


def test_a_long_budget_waits_five_seconds_then_says_so_every_fifteen():
    assert (FIRST_WAIT_LINE_S, WAIT_LINE_EVERY_S) == (5.0, 15.0)
    ticks = [i * 0.5 for i in range(0, 81)]  # polls every 0.5 s for 40 s
    assert due_at(WaitLines(900), ticks) == [5.0, 20.0, 35.0]


def test_a_short_budget_speaks_after_a_quarter_then_every_half():
    assert due_at(WaitLines(2), [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 1.9]) == [0.5, 1.5]


def test_a_stalled_poll_gets_one_line_not_a_burst():
    lines = WaitLines(900)
    assert due_at(lines, [1.0, 50.0, 51.0, 64.0, 65.0]) == [50.0, 65.0]
