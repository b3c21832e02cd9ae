"""The measurement of one rollback, on the clock: t0, the poll loop, the late look, the soak.

DESIGN.md "One drill", step 4: t0 is taken just before the rollback command is spawned (own
process group); the target is recovered at the later of the first `healthy_streak` matching probe
answers and the first moment each state HTTP cannot show (nginx config + `nginx -t`, database
revision, the image the engine runs) is seen restored; RTO = recovered - t0, never clamped to the
command's exit. A missed budget is watched a little longer so the failure can say how late the
target did come back (the RTO stays null). Then the soak: from the recovery until `soak_s` after
the rollback is really over, every probe answer must stay healthy and the state checks hold.

Plain code: the probe, the running command and the state checks come in; what it sees goes out
to `say` (the drill's terminal steps) and `mark` (the timeline). A FakeClock runs it in tests.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from helpers.clock import REAL, Clock
from helpers.commands import CommandResult
from helpers.probe import Sample
from helpers.rto import Recovery, SoakResult, check_soak, compute_recovery
from helpers.wait import Wait

__all__ = ["FIRST_WAIT_LINE_S", "LATE_LOOK_MAX_S", "LATE_LOOK_MIN_S", "SOAK_WAIT_S", "WAIT_LINE_EVERY_S",
           "Measurement", "WaitLines", "Watched", "holds"]

LATE_LOOK_MIN_S = 2        # how long a missed budget is watched for a late recovery, at least
LATE_LOOK_MAX_S = 10       # and at most
SOAK_WAIT_S = 10           # past the soak's end, how long to wait for the probe's next answer
COMMAND_EXIT_WAIT_S = 5    # the command's exit seen by poll(): reading its result
# While the rollback has not recovered: a waiting line after this long, then at this interval
# (sooner for a short budget: a quarter of it, then every half).
FIRST_WAIT_LINE_S = 5.0
WAIT_LINE_EVERY_S = 15.0


class Probe(Protocol):
    def samples(self, since: float | None = None, until: float | None = None) -> list[Sample]: ...

    def wait_past(self, t: float, timeout_s: float) -> bool: ...


class Running(Protocol):
    """A rollback command under way (helpers.commands.RunningCommand)."""
    started: float

    def poll(self) -> int | None: ...

    def wait(self, timeout: float) -> CommandResult: ...

    def kill(self, grace_s: float = 2.0) -> None: ...


class WaitLines:
    """The waiting line while a rollback has not recovered: elapsed time against the budget."""

    def __init__(self, budget_s: float) -> None:
        self.next_s = min(FIRST_WAIT_LINE_S, budget_s / 4)
        self.every_s = min(WAIT_LINE_EVERY_S, budget_s / 2)

    def due(self, elapsed_s: float) -> bool:
        if elapsed_s < self.next_s:
            return False
        while self.next_s <= elapsed_s:
            self.next_s += self.every_s
        return True


def holds(check: Callable[[], object]) -> bool:
    """A state check that raises (database mid-migration, file being replaced) is 'not yet'."""
    try:
        return bool(check())
    except Exception:
        return False


@dataclass(frozen=True)
class Watched:
    """What the poll loop saw, from t0 to the recovery and the command's exit (or the budget)."""
    t0: float
    command: CommandResult
    recovery: Recovery
    late_rto_s: float | None = None  # recovered, but only after the budget (RTO stays null)


class Measurement:
    def __init__(self, probe: Probe, checks: Mapping[str, Callable[[], object]], *, budget_s: float,
                 version: str | None, pool: str | None, interval_s: float, healthy_streak: int, soak_s: float,
                 clock: Clock = REAL, say: Callable[[str], object] = lambda _text: None,
                 mark: Callable[[str, float], object] = lambda _name, _t: None) -> None:
        self.probe, self.checks, self.clock, self.say, self.mark = probe, dict(checks), clock, say, mark
        self.budget_s, self.version, self.pool = budget_s, version, pool
        self.interval_s, self.healthy_streak, self.soak_s = interval_s, healthy_streak, soak_s
        self.first_seen: dict[str, float | None] = dict.fromkeys(self.checks)

    # -- from t0 ----------------------------------------------------------------------------
    def observe(self, t0: float, budget_s: float | None) -> Recovery:
        """One polling round: note each state check first seen restored, then the recovery so far."""
        for name, check in self.checks.items():
            if self.first_seen[name] is None and holds(check):
                self.first_seen[name] = self.clock.monotonic()
        return compute_recovery(self.probe.samples(since=t0), t0, healthy_streak=self.healthy_streak,
                                version=self.version, pool=self.pool, state_checks=self.first_seen,
                                budget_s=budget_s)

    def watch(self, running: Running) -> Watched:
        """Poll every interval from t0 (the command's start) until the target recovered and the
        command exited, or the budget is spent; a command still running then gets a last moment
        and its group is ended. A missed budget gets the late look."""
        t0 = running.started
        self.mark("rollback_start", t0)
        result: CommandResult | None = None
        # Nothing seen yet (no I/O: the first round below looks at once).
        recovery = compute_recovery((), t0, healthy_streak=self.healthy_streak, version=self.version,
                                    pool=self.pool, state_checks=self.first_seen, budget_s=self.budget_s)
        waiting = WaitLines(self.budget_s)
        said_recovered = False
        try:
            for left in Wait("the rollback to recover", self.budget_s, self.interval_s, self.clock).rounds(at=t0):
                if result is None and running.poll() is not None:
                    result = running.wait(COMMAND_EXIT_WAIT_S)
                    self.say(f"rollback command exited {result.exit_code} after {result.duration_s:.2f}s")
                recovery = self.observe(t0, self.budget_s)
                if recovery.recovered and not said_recovered:
                    said_recovered = True
                    self.say(f"recovered: RTO {recovery.rto_s:.2f}s")
                if recovery.recovered and result is not None:
                    break
                if not recovery.recovered and not left.expired() and waiting.due(left.elapsed()):
                    self.say(self._waiting_line(left.elapsed(), result))
            if result is None:  # still running at the budget: give it a moment, then end its group
                result = running.wait(max(1.0, self.interval_s * 4))
        finally:
            if result is None:
                running.kill()
        late = None
        if not recovery.recovered and not result.timed_out:
            late = self.late_look(t0)
        self.mark("rollback_exit", result.ended)
        if recovery.recovered_at is not None:
            self.mark("recovered", recovery.recovered_at)
        else:
            self.say(f"NOT recovered within the {self.budget_s:g}s budget"
                     + (f"; it recovered {late:.2f}s after the rollback started" if late is not None else ""))
        return Watched(t0, result, recovery, late)

    def _waiting_line(self, elapsed_s: float, result: CommandResult | None) -> str:
        samples = self.probe.samples()
        front = samples[-1].describe() if samples else "no probe answer yet"
        command = "rollback command still running" if result is None else f"rollback exited {result.exit_code}"
        return (f"waiting for recovery: {elapsed_s:.1f}s of the {self.budget_s:g}s budget; {command}; "
                f"front: {front}")

    def late_look(self, t0: float) -> float | None:
        """After a missed budget, look a little longer (bounded) so the failure can say how far
        over budget the target did recover. The RTO stays null: the budget was missed."""
        look_s = min(LATE_LOOK_MAX_S, max(LATE_LOOK_MIN_S, self.budget_s))
        for _ in Wait("a recovery past the budget", look_s, self.interval_s, self.clock).rounds():
            late = self.observe(t0, budget_s=None)
            if late.recovered:
                return late.rto_s
        return None

    # -- the soak ---------------------------------------------------------------------------
    def lapsed(self) -> list[str]:
        """The state checks that do not hold now."""
        return [name for name, check in self.checks.items() if not holds(check)]

    def soak(self, watched: Watched, starting: Callable[[float], object] = lambda _start: None) -> SoakResult:
        """The soak starts at the later of the recovery, the command's exit and the state checks
        passing again once it exited; from the recovery to the soak's end every probe answer must
        stay healthy and as expected, and the state checks must still hold at the end. The RTO
        is not touched: only the window that must stay healthy moves. `starting(start)` is called
        as it starts (the checks after the rollback run meanwhile)."""
        recovered_at = watched.recovery.recovered_at
        if recovered_at is None:
            raise ValueError("no soak without a recovery")
        lapsed_at_exit = self.lapsed()
        start = max(recovered_at, watched.command.ended, self.clock.monotonic())
        end = start + self.soak_s
        self.mark("soak_start", start)
        starting(start)
        self.probe.wait_past(end, timeout_s=self.soak_s + SOAK_WAIT_S)
        soak = check_soak(self.probe.samples(), recovered_at, end, version=self.version, pool=self.pool)
        soak = dataclasses.replace(soak, soak_start=start,
                                   lapsed_checks=_unique(lapsed_at_exit + self.lapsed()))
        if soak.first_bad is not None:
            self.mark("relapse", soak.first_bad.t)
        self.say("soak held" if soak.ok else f"soak FAILED: {soak.problem()}")
        self.mark("soak_end", end)
        return soak


def _unique(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))
