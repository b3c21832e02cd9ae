"""The measurement of a rollback on the fake clock: t0, the poll loop, the late look, the soak.

The probe and the command are stand-ins scripted on the same fake clock: each answers what the
script says for the moment the clock shows, so every case runs instantly and exactly.
"""
from __future__ import annotations

from collections.abc import Callable

import pytest

from helpers.clock import FakeClock
from helpers.commands import CommandResult
from helpers.measure import LATE_LOOK_MAX_S, Measurement

from .conftest import sample

pytestmark = pytest.mark.unit

T0 = 100.0
EVERY = 0.0625  # the probe's interval (binary fractions: the fake clock adds them exactly)
POLL = 0.125    # the measurement's


class ScriptedProbe:
    """Answers every EVERY s from T0 on; `front(t)` says what the answer at T0 + t shows."""

    def __init__(self, clock: FakeClock, front: Callable[[float], str]):
        self.clock, self.front = clock, front

    def samples(self, since=None, until=None):
        out, i = [], 0
        while (t := T0 + i * EVERY) <= self.clock.monotonic():
            s = sample(t) if self.front(t - T0) == "ok" else sample(t, status=503, version=None)
            if (since is None or s.t >= since) and (until is None or s.t <= until):
                out.append(s)
            i += 1
        return out

    def wait_past(self, t, timeout_s):
        self.clock.advance(max(0.0, min(t + 0.01 - self.clock.monotonic(), timeout_s)))
        return True


class ScriptedCommand:
    """The rollback command: exits with `code` at T0 + `exits_after`, or never (None)."""

    def __init__(self, clock: FakeClock, exits_after: float | None, code: int = 0):
        self.clock, self.exits_after, self.code, self.killed = clock, exits_after, code, False
        self.started = clock.monotonic()

    def _exited(self) -> bool:
        return self.exits_after is not None and self.clock.monotonic() >= self.started + self.exits_after

    def poll(self):
        return self.code if self._exited() else None

    def wait(self, timeout):
        if not self._exited():
            self.clock.advance(timeout)
        if self.exits_after is not None and self._exited():
            return CommandResult(("rollback",), self.code, "", "", self.started, self.started + self.exits_after)
        self.killed = True
        return CommandResult(("rollback",), -15, "", "", self.started, self.clock.monotonic(), timed_out=True)

    def kill(self, grace_s=2.0):
        self.killed = True


def measure(front, checks=None, budget=10.0, soak_s=1.0, clock=None):
    clock = clock or FakeClock(start=T0)
    said: list[str] = []
    marks: dict[str, float] = {}
    m = Measurement(ScriptedProbe(clock, front), checks or {}, budget_s=budget, version="v1.0.0", pool="api_v1",
                    interval_s=POLL, healthy_streak=3, soak_s=soak_s, clock=clock, say=said.append,
                    mark=marks.__setitem__)
    return clock, m, said, marks


def test_recovered_at_the_first_of_the_healthy_streak_after_t0():
    clock, m, said, marks = measure(lambda t: "ok" if t >= 1.0 else "bad")
    watched = m.watch(ScriptedCommand(clock, exits_after=0.5))
    assert watched.recovery.rto_s == 1.0
    assert watched.command.exit_code == 0 and watched.late_rto_s is None
    assert said == ["rollback command exited 0 after 0.50s", "recovered: RTO 1.00s"]
    assert (marks["rollback_start"], marks["rollback_exit"], marks["recovered"]) == (T0, T0 + 0.5, T0 + 1.0)
    assert set(clock.sleeps) == {POLL}  # one round per interval
    assert clock.monotonic() == T0 + 1.125  # the round that saw the streak's third answer


def test_the_rto_is_not_clamped_to_the_commands_exit():
    clock, m, said, _ = measure(lambda t: "ok" if t >= 0.25 else "bad")
    watched = m.watch(ScriptedCommand(clock, exits_after=3.0))
    assert watched.recovery.rto_s == 0.25
    assert said == ["recovered: RTO 0.25s", "rollback command exited 0 after 3.00s"]


def test_a_state_check_holds_the_recovery_back_until_it_is_first_seen():
    clock = FakeClock(start=T0)
    restored = {"at": T0 + 2.0}

    def nginx_back() -> bool:
        if clock.monotonic() < T0 + 0.5:
            raise OSError("file being replaced")  # a check that raises is "not yet"
        return clock.monotonic() >= restored["at"]
    _, m, _said, _ = measure(lambda t: "ok", {"nginx": nginx_back}, clock=clock)
    watched = m.watch(ScriptedCommand(clock, exits_after=0.1))
    assert watched.recovery.rto_s == 2.0
    assert watched.recovery.explain() == "recovered after 2.000s (last to recover: nginx)"


def test_a_missed_budget_says_so_and_how_late_it_did_recover():
    clock, m, said, marks = measure(lambda t: "ok" if t >= 3.0 else "bad", budget=2.0)
    watched = m.watch(ScriptedCommand(clock, exits_after=0.3))
    assert not watched.recovery.recovered and watched.recovery.rto_s is None
    assert watched.late_rto_s == 3.0
    assert said[0] == "rollback command exited 0 after 0.30s"
    assert [s.split(";")[0] for s in said[1:-1]] == ["waiting for recovery: 0.5s of the 2s budget",
                                                     "waiting for recovery: 1.5s of the 2s budget"]
    assert "rollback exited 0; front: healthz 503" in said[1]
    assert said[-1] == "NOT recovered within the 2s budget; it recovered 3.00s after the rollback started"
    assert "recovered" not in marks


def test_the_late_look_is_bounded():
    clock, m, said, _ = measure(lambda t: "bad", budget=30.0)
    watched = m.watch(ScriptedCommand(clock, exits_after=1.0))
    assert watched.late_rto_s is None
    assert clock.monotonic() == T0 + 30.0 + LATE_LOOK_MAX_S
    assert said[-1] == "NOT recovered within the 30s budget"


def test_a_command_still_running_at_the_budget_is_ended_and_gets_no_late_look():
    clock, m, _said, marks = measure(lambda t: "ok", budget=2.0)
    command = ScriptedCommand(clock, exits_after=None)
    watched = m.watch(command)
    assert watched.command.timed_out and command.killed
    assert watched.recovery.recovered  # it was, but the command never exited
    assert clock.monotonic() == T0 + 2.0 + 1.0  # the budget, then a last second
    assert marks["rollback_exit"] == T0 + 3.0


def test_the_soak_starts_when_the_rollback_is_over_and_holds():
    clock, m, said, marks = measure(lambda t: "ok" if t >= 0.5 else "bad", soak_s=1.0)
    watched = m.watch(ScriptedCommand(clock, exits_after=2.0))
    started: list[float] = []
    soak = m.soak(watched, starting=started.append)
    assert started == [T0 + 2.0]  # the command's exit, after the recovery
    assert soak.ok and (soak.soak_start, soak.end) == (T0 + 2.0, T0 + 3.0)
    assert soak.start == watched.recovery.recovered_at == T0 + 0.5  # judged from the recovery on
    assert said[-1] == "soak held"
    assert (marks["soak_start"], marks["soak_end"]) == (T0 + 2.0, T0 + 3.0)


def test_a_relapse_during_the_soak_fails_it_and_is_marked():
    clock, m, said, marks = measure(lambda t: "bad" if t < 0.25 or 1.5 <= t < 1.6 else "ok", soak_s=2.0)
    watched = m.watch(ScriptedCommand(clock, exits_after=0.5))
    soak = m.soak(watched)
    assert not soak.ok and marks["relapse"] == T0 + 1.5
    assert said[-1].startswith("soak FAILED: relapse 1.250s after recovery: the front answered healthz 503")


def test_a_state_check_that_lapses_fails_the_soak_by_name():
    clock = FakeClock(start=T0)
    _, m, said, _ = measure(lambda t: "ok", {"database at 0002": lambda: clock.monotonic() < T0 + 1.0}, clock=clock)
    watched = m.watch(ScriptedCommand(clock, exits_after=0.5))
    soak = m.soak(watched)
    assert soak.lapsed_checks == ("database at 0002",)
    assert said[-1] == "soak FAILED: relapse after recovery: database at 0002 no longer holds"


def test_no_soak_without_a_recovery():
    clock, m, _said, _ = measure(lambda t: "bad", budget=1.0)
    watched = m.watch(ScriptedCommand(clock, exits_after=0.1))
    with pytest.raises(ValueError):
        m.soak(watched)
