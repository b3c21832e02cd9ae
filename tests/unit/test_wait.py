"""The one way to wait, on the fake clock: what it returns, when it gives up, what it says."""
import threading

import pytest

from helpers.clock import FakeClock
from helpers.wait import Wait, WaitTimeout

pytestmark = pytest.mark.unit


def test_until_returns_the_first_ready_value_and_looks_every_interval():
    clock = FakeClock(start=1000.0)
    seen = []

    def look():
        seen.append(clock.monotonic())
        return clock.monotonic() >= 1002.3 and "up"

    assert Wait("the front to answer", 10, 0.5, clock).until(look) == "up"
    assert clock.monotonic() == pytest.approx(1002.5)
    assert set(clock.sleeps) == {0.5}
    assert seen[0] == 1000.0  # the first look is at once


def test_a_timeout_says_what_it_waited_for_how_long_and_what_it_saw_last():
    clock = FakeClock(start=0.0)
    answers = iter(range(100))
    with pytest.raises(WaitTimeout) as raised:
        Wait("api_v1 to answer 200", 1.0, 0.25, clock).until(lambda: {"status": 500 + next(answers)},
                                                            ready=lambda r: r["status"] == 200)
    e = raised.value
    assert str(e) == "api_v1 to answer 200: not within 1s (waited 1.0s); last seen: {'status': 504}"
    assert (e.what, e.timeout_s, e.waited_s) == ("api_v1 to answer 200", 1.0, 1.0)
    assert isinstance(e, TimeoutError)


def test_sleeps_never_overshoot_the_timeout_and_the_deadline_gets_a_last_look():
    clock = FakeClock(start=0.0)
    looks = []
    assert Wait("never", 1.0, 0.3, clock).poll(lambda: looks.append(clock.monotonic())) is None
    assert clock.sleeps == pytest.approx([0.3, 0.3, 0.3, 0.1])
    assert looks == pytest.approx([0.0, 0.3, 0.6, 0.9, 1.0])


def test_a_zero_timeout_looks_exactly_once():
    clock = FakeClock(start=0.0)
    looks = []
    assert Wait("once", 0, 0.1, clock).poll(lambda: looks.append(1)) is None
    assert looks == [1] and clock.sleeps == []


def test_ignored_errors_are_not_yet_and_become_what_was_seen():
    clock = FakeClock(start=0.0)

    def broken():
        raise ConnectionError("db down")

    with pytest.raises(WaitTimeout, match=r"last seen: ConnectionError: db down$"):
        Wait("the database", 1.0, 0.3, clock).until(broken, ignore=(ConnectionError,))
    assert clock.monotonic() == pytest.approx(1.0)


def test_an_error_not_ignored_goes_through_at_once():
    clock = FakeClock(start=0.0)
    with pytest.raises(KeyError):
        Wait("a key", 5, 0.1, clock).poll(lambda: dict[str, str]()["missing"])
    assert clock.sleeps == []


def test_a_ready_value_that_is_falsy_is_still_returned():
    clock = FakeClock(start=0.0)
    counts = iter([3, 2, 1, 0])
    assert Wait("the queue to drain", 5, 0.1, clock).until(lambda: next(counts), ready=lambda n: n == 0) == 0
    assert len(clock.sleeps) == 3


def test_the_message_of_a_long_answer_is_cut():
    clock = FakeClock(start=0.0)
    with pytest.raises(WaitTimeout) as raised:
        Wait("short", 0, 0.1, clock).until(lambda: "x" * 1000, ready=lambda _v: False)
    assert len(raised.value.last) == 300 and raised.value.last.endswith("...")


def test_rounds_end_after_the_round_at_the_timeout():
    clock = FakeClock(start=5.0)
    elapsed = [round(left.elapsed(), 3) for left in Wait("rounds", 0.5, 0.2, clock).rounds()]
    assert elapsed == [0.0, 0.2, 0.4, 0.5]


def test_rounds_can_count_from_an_instant_already_taken():
    clock = FakeClock(start=10.0)
    clock.advance(0.4)
    rounds = list(Wait("since t0", 0.5, 0.2, clock).rounds(at=10.0))
    assert len(rounds) == 2  # at 10.4, and at the deadline
    assert clock.monotonic() == pytest.approx(10.5) and clock.sleeps == pytest.approx([0.1])


def test_rounds_sleep_through_the_given_function():
    clock = FakeClock(start=0.0)
    pauses = []

    def pause(seconds):
        pauses.append(seconds)
        clock.advance(seconds)
    assert len(list(Wait("cond", 0.1, 0.05, clock).rounds(sleep=pause))) == 3
    assert pauses == pytest.approx([0.05, 0.05]) and clock.sleeps == []


def test_a_countdown_says_how_much_is_left():
    clock = FakeClock(start=0.0)
    left = Wait("a bound", 2.0, 1.0, clock).start()
    clock.advance(0.5)
    assert (left.elapsed(), left.remaining(), left.expired(), left.deadline) == (0.5, 1.5, False, 2.0)
    clock.advance(2.0)
    assert (left.remaining(), left.expired()) == (0.0, True)


def test_each_times_each_check_independently():
    clock = FakeClock(start=0.0)
    found = Wait("both", 5.0, 0.25, clock).each({"slow": lambda: clock.monotonic() >= 2.0,
                                                "fast": lambda: clock.monotonic() >= 0.2})
    assert found == {"slow": pytest.approx(2.0), "fast": pytest.approx(0.25)}


def test_each_gives_up_at_the_timeout_and_keeps_the_last_error():
    clock = FakeClock(start=0.0)
    errors: dict[str, str] = {}

    def broken():
        raise ConnectionError("db down")

    assert Wait("check", 1.0, 0.3, clock).each({"check": broken}, errors) == {"check": None}
    assert clock.monotonic() == pytest.approx(1.0)
    assert errors == {"check": "ConnectionError: db down"}


def test_a_wait_refuses_a_negative_timeout_or_an_interval_of_zero():
    with pytest.raises(ValueError, match="timeout cannot be negative"):
        Wait("x", -1)
    with pytest.raises(ValueError, match="interval must be above zero"):
        Wait("x", 1, 0)


def test_on_the_real_clock_a_condition_cut_short_by_a_notifier():
    cond = threading.Condition()
    box: list[int] = []

    def put() -> None:
        with cond:
            box.append(1)
            cond.notify_all()
    timer = threading.Timer(0.05, put)
    timer.start()
    with cond:
        for _ in Wait("the box to fill", 5, 1.0).rounds(sleep=cond.wait):
            if box:
                break
    timer.join()
    assert box == [1]
