import os
import subprocess
import threading
from datetime import UTC, datetime

import pytest

from helpers.clock import REAL, FakeClock, date_utc, iso_utc

pytestmark = pytest.mark.unit


def test_fake_clock_moves_only_when_told():
    clock = FakeClock(start=50.0, wall=datetime(2025, 1, 6, 12, 0, tzinfo=UTC))
    assert clock.monotonic() == 50.0
    assert clock.monotonic() == 50.0
    clock.advance(1.5)
    clock.sleep(0.25)
    assert clock.monotonic() == pytest.approx(51.75)
    assert clock.now() == datetime(2025, 1, 6, 12, 0, 1, 750000, tzinfo=UTC)
    assert clock.sleeps == [0.25]


def test_fake_clock_refuses_to_go_back():
    with pytest.raises(ValueError):
        FakeClock().advance(-1)


def test_fake_clock_wait_returns_at_once_when_event_set():
    clock, event = FakeClock(start=0.0), threading.Event()
    assert clock.wait(event, 2.0) is False
    assert clock.monotonic() == 2.0
    event.set()
    assert clock.wait(event, 2.0) is True
    assert clock.monotonic() == 2.0


def test_real_clock_is_monotonic_and_utc():
    a = REAL.monotonic()
    REAL.sleep(0.01)
    assert REAL.monotonic() - a >= 0.009
    assert REAL.now().utcoffset().total_seconds() == 0


def test_iso_utc_is_second_precision_with_z():
    moment = datetime(2025, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
    assert iso_utc(moment) == "2025-03-04T05:06:07Z"
    with pytest.raises(ValueError):
        iso_utc(datetime(2025, 3, 4))


@pytest.mark.parametrize("moment", [datetime(2025, 1, 6, 12, 0, 0, tzinfo=UTC),
                                    datetime(2024, 11, 23, 9, 5, 3, tzinfo=UTC)])
def test_date_utc_matches_the_date_command(moment):
    out = subprocess.run(["date", "-u", "-d", f"@{int(moment.timestamp())}"], text=True,
                         capture_output=True, check=True, env={**os.environ, "LC_ALL": "C"})
    assert date_utc(moment) == out.stdout.strip()
