"""One stream of steps: emitted once, written by each sink in its own words; and the checks that
run during the soak, as one context manager."""
import threading
from datetime import UTC, datetime

import pytest

from helpers.after_checks import AfterRollbackChecks
from helpers.clock import FakeClock
from helpers.drill_log import DrillLog
from helpers.steps import Step, StepStream, log_sink

pytestmark = pytest.mark.unit


def stream_into(tmp_path):
    shown: list[Step] = []
    log = DrillLog(tmp_path / "rollback-drill.log",
                   clock=FakeClock(wall=datetime(2025, 1, 6, 12, 0, tzinfo=UTC)))
    return StepStream(shown.append, log_sink(log)), shown, log.path


def test_a_drill_step_reaches_both_sinks_once_in_each_ones_words(tmp_path):
    stream, shown, log = stream_into(tmp_path)
    steps = stream.drill("drills/test_x.py::test_x", "upstream")
    steps.started()
    steps("rollback --type upstream started (budget 60s)", logged="rollback --type upstream started")
    steps("recovered: RTO 0.18s")  # a heartbeat: shown, not logged
    steps.log("fault no longer present at t0: healed")  # logged, not shown
    assert [(s.shown, s.scope, s.drill_type, s.starts_drill) for s in shown] == [
        ("drill started: drills/test_x.py::test_x", "drill", "upstream", True),
        ("rollback --type upstream started (budget 60s)", "drill", "upstream", False),
        ("recovered: RTO 0.18s", "drill", "upstream", False),
        (None, "drill", "upstream", False)]
    assert log.read_text().splitlines() == [
        "Mon Jan  6 12:00:00 UTC 2025: upstream drill started: drills/test_x.py::test_x",
        "Mon Jan  6 12:00:00 UTC 2025: upstream drill: rollback --type upstream started",
        "Mon Jan  6 12:00:00 UTC 2025: upstream drill: fault no longer present at t0: healed"]


def test_run_steps_and_sandbox_lines_are_logged_only_when_they_say_so(tmp_path):
    stream, shown, log = stream_into(tmp_path)
    stream.run_step("preflight passed: at baseline")
    stream.sandbox_line("sandbox: nginx up")
    assert not log.exists()  # nothing logged: the file is not even created
    stream.run_step("restored from the journal of an interrupted run: x", logged="restored from the journal "
                                                                               "of an interrupted run: x")
    assert [(s.shown, s.scope) for s in shown] == [("preflight passed: at baseline", "run"),
                                                   ("sandbox: nginx up", "sandbox"),
                                                   ("restored from the journal of an interrupted run: x", "run")]
    assert log.read_text() == "Mon Jan  6 12:00:00 UTC 2025: restored from the journal of an interrupted run: x\n"


def test_the_checks_during_the_soak_run_beside_it_and_are_awaited_on_leaving():
    release = threading.Event()
    ran: list[str] = []

    def smoke() -> list[str]:
        release.wait(5)
        ran.append("smoke")
        return ["performance smoke: p95 900 ms"]

    def broken() -> list[str]:
        raise ConnectionError("engine gone")

    checks = AfterRollbackChecks([smoke, broken], bound_s=5)
    with checks:
        assert ran == []  # running on its own thread while the soak goes on
        release.set()
    assert ran == ["smoke"]  # leaving the block waited for it
    assert checks.problems() == ["performance smoke: p95 900 ms",
                                 "broken check could not run: ConnectionError: engine gone"]


def test_checks_never_entered_run_when_asked_and_a_slow_one_is_bounded():
    assert AfterRollbackChecks([lambda: ["x"]], bound_s=1).problems() == ["x"]
    hold = threading.Event()
    slow = AfterRollbackChecks([lambda: [] if hold.wait(5) else ["never"]], bound_s=0.05)
    with slow:
        assert slow.problems() == ["checks after the rollback (verify, performance smoke, /metrics, host) "
                                   "did not end within 0.05s"]
        hold.set()
