"""The one door to time.

Every duration the suite measures (RTO, command runtime, probe latency) and every timestamp it
writes (results JSON, drill log) goes through a `Clock`, so the stopwatch logic can be tested with a
`FakeClock` whose time only moves when the test says so. Durations use the monotonic clock (wall
time jumps under NTP); the wall clock is only for timestamps people read.
"""
from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["REAL", "Clock", "FakeClock", "SystemClock", "date_utc", "iso_utc"]

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences mean anything."""

    def now(self) -> datetime:
        """The wall-clock time, timezone-aware, in UTC."""

    def sleep(self, seconds: float) -> None:
        """Block for `seconds` (negative counts as zero)."""

    def wait(self, event: threading.Event, timeout: float) -> bool:
        """Block until `event` is set or `timeout` seconds pass; True when the event is set."""


class SystemClock:
    """The real clocks of the machine."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    def wait(self, event: threading.Event, timeout: float) -> bool:
        return event.wait(max(0.0, timeout))


class FakeClock:
    """A clock for tests: time moves only through `advance()`, `sleep()` and `wait()`.

    `sleep` and `wait` advance the clock instead of blocking, so a polling loop under test runs
    instantly and deterministically. The wall clock moves in step with the monotonic one.
    """

    def __init__(self, start: float = 1000.0,
                 wall: datetime = datetime(2025, 1, 6, 12, 0, 0, tzinfo=UTC)) -> None:
        if wall.tzinfo is None:
            raise ValueError("FakeClock wall time must be timezone-aware")
        self._lock = threading.Lock()
        self._start = start
        self._mono = start
        self._wall0 = wall.astimezone(UTC)
        self.sleeps: list[float] = []  # every sleep/wait asked for, to assert on polling cadence

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go back")
        with self._lock:
            self._mono += seconds
            return self._mono

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def now(self) -> datetime:
        with self._lock:
            return self._wall0 + timedelta(seconds=self._mono - self._start)

    def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.sleeps.append(seconds)
        self.advance(seconds)

    def wait(self, event: threading.Event, timeout: float) -> bool:
        if event.is_set():
            return True
        self.sleep(timeout)
        return event.is_set()


REAL: Clock = SystemClock()


def iso_utc(moment: datetime) -> str:
    """ISO-8601 in UTC to the second with a `Z`, e.g. `2025-01-06T12:00:00Z`."""
    if moment.tzinfo is None:
        raise ValueError("iso_utc needs a timezone-aware datetime")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def date_utc(moment: datetime) -> str:
    """What `date` prints in the C locale with TZ=UTC, e.g. `Mon Jan  6 12:00:00 UTC 2025`.

    Spelled out by hand rather than with strftime("%a %b %e"), which follows the process locale.
    """
    m = moment.astimezone(UTC)
    return (f"{_DAYS[m.weekday()]} {_MONTHS[m.month - 1]} {m.day:2d} "
            f"{m.hour:02d}:{m.minute:02d}:{m.second:02d} UTC {m.year}")
