"""Recovery time, soak and polling: DESIGN.md "One drill" step 4, as pure functions.

t0 is taken just before the rollback command is spawned. The target is recovered at the LATER of
- the first sample of the first run of `healthy_streak` consecutive probe samples, sent after t0,
  that are healthy and show the expected version and pool (the streak proves it is not a blip; its
  first sample is when the target was first seen back), and
- the moment each state HTTP cannot show (nginx config + `nginx -t`, database revision) was first
  seen restored.
RTO = recovered - t0, not clamped to the command's exit (a rollback that exits 0 and heals later is
measured by the healing). Nothing seen within the budget: no recovery, RTO None.

Samples are judged by when they were *sent*: an answer to a request sent before t0 says nothing
about the rollback. They are timed by when they *answered*: that is when recovery was seen.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from helpers.probe import Sample

__all__ = ["Recovery", "SoakResult", "check_soak", "compute_recovery", "first_streak_at"]


def first_streak_at(samples: Iterable[Sample], t0: float, streak: int, *,
                    version: str | None, pool: str | None,
                    until: float | None = None) -> float | None:
    """Time of the first sample of the first `streak` consecutive matching samples after t0."""
    if streak < 1:
        raise ValueError("streak must be >= 1")
    run, first = 0, None
    for s in samples:
        if s.sent_at < t0:
            continue
        if until is not None and s.t > until:
            break
        if s.matches(version, pool):
            if run == 0:
                first = s.t
            run += 1
            if run >= streak:
                return first
        else:
            run = 0
    return None


@dataclass(frozen=True)
class Recovery:
    t0: float
    streak_at: float | None                  # probe streak start, None: never
    state_at: Mapping[str, float | None]     # each state check's first-restored time
    recovered_at: float | None
    budget_s: float | None
    expected: str                            # "version V, pool P", for messages

    @property
    def rto_s(self) -> float | None:
        return None if self.recovered_at is None else self.recovered_at - self.t0

    @property
    def recovered(self) -> bool:
        return self.recovered_at is not None

    def waiting_for(self) -> list[str]:
        """What never came back: 'probe' and/or the names of state checks."""
        missing = ["probe"] if self.streak_at is None else []
        return missing + [name for name, at in self.state_at.items() if at is None]

    def explain(self) -> str:
        """One line for the report."""
        if self.recovered_at is not None:
            times = {"probe": self.streak_at, **self.state_at}
            by = max(times, key=lambda name: times[name] or 0.0)
            return f"recovered after {self.rto_s:.3f}s (last to recover: {by})"
        within = f" within {self.budget_s:g}s" if self.budget_s is not None else ""
        parts = []
        if self.streak_at is None:
            parts.append(f"probe never saw a healthy streak showing {self.expected}")
        parts += [f"{name} never restored" for name, at in self.state_at.items() if at is None]
        return f"never recovered{within}: " + "; ".join(parts)


def compute_recovery(samples: Iterable[Sample], t0: float, *, healthy_streak: int,
                     version: str | None, pool: str | None,
                     state_checks: Mapping[str, float | None] | None = None,
                     budget_s: float | None = None) -> Recovery:
    until = None if budget_s is None else t0 + budget_s
    streak_at = first_streak_at(samples, t0, healthy_streak, version=version, pool=pool,
                                until=until)
    state_at: dict[str, float | None] = {}
    for name, at in (state_checks or {}).items():
        if at is not None and until is not None and at > until:
            at = None
        state_at[name] = None if at is None else max(at, t0)  # restored before t0: seen at t0
    recovered_at = None
    if streak_at is not None and all(at is not None for at in state_at.values()):
        recovered_at = max([streak_at, *(at for at in state_at.values() if at is not None)])
    return Recovery(t0, streak_at, state_at, recovered_at, budget_s,
                    f"version {version or 'any'}, pool {pool or 'any'}")


@dataclass(frozen=True)
class SoakResult:
    """The window from the recovery to the end of the soak (DESIGN.md step 4 and issue 9's rule:
    the soak starts only when the rollback is really over — recovered, the command exited, the
    state checks passing again — and every answer from the recovery on must stay healthy)."""
    start: float                    # the recovery: the window is judged from here
    end: float                      # the soak's end: soak_start + soak_s
    checked: int                    # samples inside the window
    first_bad: Sample | None        # the first relapse, if any
    covered_until: float | None     # the last sample's time (the probe saw up to here)
    soak_start: float | None = None  # when the soak proper began (None: at `start`)
    lapsed_checks: tuple[str, ...] = ()  # state checks that no longer held after the recovery

    @property
    def incomplete(self) -> bool:
        return self.covered_until is None or self.covered_until < self.end

    @property
    def ok(self) -> bool:
        return (self.first_bad is None and not self.lapsed_checks and not self.incomplete
                and self.checked > 0)

    @property
    def first_bad_at(self) -> float | None:
        return None if self.first_bad is None else self.first_bad.t

    def problem(self) -> str | None:
        if self.first_bad is not None:
            return (f"relapse {self.first_bad.t - self.start:.3f}s after recovery: the front answered "
                    f"{self.first_bad.describe()}")
        if self.lapsed_checks:
            return "relapse after recovery: " + "; ".join(f"{name} no longer holds"
                                                          for name in self.lapsed_checks)
        if self.checked == 0 or self.incomplete:
            seen = 0.0 if self.covered_until is None else max(0.0, self.covered_until - self.start)
            return (f"soak unverified: probe samples cover {seen:.3f}s of "
                    f"{self.end - self.start:.3f}s after recovery")
        return None


def check_soak(samples: Iterable[Sample], start: float, end: float, *,
               version: str | None, pool: str | None) -> SoakResult:
    """Every sample answered in [start, end] (recovery to soak end) must be healthy and match;
    the probe must have seen to the end of the window (a sample at or after it), or the soak
    proves nothing."""
    checked, first_bad, last = 0, None, None
    for s in samples:
        last = s.t if last is None else max(last, s.t)
        if start <= s.t <= end:
            checked += 1
            if first_bad is None and not s.matches(version, pool):
                first_bad = s
    return SoakResult(start, end, checked, first_bad, last)
