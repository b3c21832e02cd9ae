"""One way to wait: look at a condition on the clock until it holds or the timeout passes.

A `Wait` names what it waits for, how long it may take (`timeout_s`), how often it looks
(`interval_s`) and the clock it reads (helpers/clock.py: a FakeClock runs it instantly in tests).
When it gives up, its message says what it waited for, for how long, and what it saw last, the
shape of testcontainers' wait strategies: a timeout reads as a finding, not a bare "timed out".

    Wait("the front to answer from api_v2", timeout_s=5).until(lambda: status()["pool"] == "api_v2")

- `until(look)`: the first value of `look()` that is ready (truthy); WaitTimeout at the timeout.
- `poll(look)`: the same, None at the timeout (the caller says what a timeout means).
- `each({name: check})`: every check looked at in each round until all held once; when each did.
- `rounds()`: for a loop with exits of its own (several outcomes, an early "no"): yields the
  Countdown once per round, sleeps between rounds, and ends after the round at or past the
  timeout (so the condition is always looked at once more at the deadline).
- `start()`: only the Countdown (a total bound shared by several steps).

Sleeps are never longer than the time left, so a Wait never overshoots its timeout by an
interval. Nothing else in helpers/, fixtures/ or tests/ writes its own deadline loop.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import TypeVar, cast

from helpers.clock import REAL, Clock

__all__ = ["Countdown", "Wait", "WaitTimeout"]

T = TypeVar("T")
SEEN_LIMIT = 300  # characters of the last thing seen kept in a message


class WaitTimeout(TimeoutError):
    """A Wait that gave up: what it waited for, for how long, and what it saw last."""

    def __init__(self, what: str, timeout_s: float, waited_s: float, last: str) -> None:
        self.what, self.timeout_s, self.waited_s, self.last = what, timeout_s, waited_s, last
        super().__init__(f"{what}: not within {timeout_s:g}s (waited {waited_s:.1f}s); last seen: {last}")


@dataclass(frozen=True)
class Countdown:
    """A started timeout: how long since it started, how long is left."""

    started: float
    timeout_s: float
    clock: Clock

    @property
    def deadline(self) -> float:
        return self.started + self.timeout_s

    def elapsed(self) -> float:
        return self.clock.monotonic() - self.started

    def remaining(self) -> float:
        return max(0.0, self.deadline - self.clock.monotonic())

    def expired(self) -> bool:
        return self.clock.monotonic() >= self.deadline


def _describe(value: object) -> str:
    text = f"{type(value).__name__}: {value}" if isinstance(value, BaseException) else repr(value)
    return text if len(text) <= SEEN_LIMIT else text[:SEEN_LIMIT - 3] + "..."


@dataclass(frozen=True)
class Wait:
    what: str                 # what it waits for, as a message names it: "api_v1 to answer /healthz"
    timeout_s: float
    interval_s: float = 0.05
    clock: Clock = REAL

    def __post_init__(self) -> None:
        if self.timeout_s < 0:
            raise ValueError(f"wait for {self.what}: a timeout cannot be negative ({self.timeout_s:g}s)")
        if self.interval_s <= 0:
            raise ValueError(f"wait for {self.what}: the interval must be above zero ({self.interval_s:g}s)")

    def start(self, at: float | None = None) -> Countdown:
        """The countdown from now, or from `at` (a monotonic instant already taken, e.g. a t0)."""
        return Countdown(self.clock.monotonic() if at is None else at, self.timeout_s, self.clock)

    def rounds(self, sleep: Callable[[float], object] | None = None, *, at: float | None = None
               ) -> Iterator[Countdown]:
        """One round per interval until the timeout, the last one at or past it. `sleep` waits
        between rounds (default the clock's; a Condition's `wait` lets a notifier cut it short)."""
        left = self.start(at)
        pause = self.clock.sleep if sleep is None else sleep
        while True:
            yield left
            if left.expired():
                return
            pause(min(self.interval_s, left.remaining()))

    def _look(self, look: Callable[[], T], ready: Callable[[T], object],
              ignore: tuple[type[BaseException], ...]) -> tuple[bool, object, object, Countdown]:
        """(found, the ready value, the last thing seen, the countdown)."""
        last: object = "nothing (never looked)"
        left = self.start()
        for left in self.rounds():
            try:
                value = look()
            except ignore as e:  # "not yet": the error is what was seen
                last = e
                continue
            if ready(value):
                return True, value, value, left
            last = value
        return False, None, last, left

    def poll(self, look: Callable[[], T], *, ready: Callable[[T], object] = bool,
             ignore: tuple[type[BaseException], ...] = ()) -> T | None:
        """The first value of `look()` that is `ready`; None when none was within the timeout.
        An exception of a type in `ignore` counts as "not yet"; any other goes through."""
        found, value, _last, _left = self._look(look, ready, ignore)
        return cast(T, value) if found else None

    def until(self, look: Callable[[], T], *, ready: Callable[[T], object] = bool,
              ignore: tuple[type[BaseException], ...] = (), seen: Callable[[object], str] = _describe) -> T:
        """As `poll`, but a timeout raises WaitTimeout naming what was seen last (`seen` words it)."""
        __tracebackhide__ = True
        found, value, last, left = self._look(look, ready, ignore)
        if not found:
            raise WaitTimeout(self.what, self.timeout_s, left.elapsed(), seen(last))
        return cast(T, value)

    def each(self, checks: Mapping[str, Callable[[], object]],
             errors: MutableMapping[str, str] | None = None) -> dict[str, float | None]:
        """Every check looked at in each round until all held once or the timeout: per name, the
        time its check first held (taken right after it did), else None. One slow check never
        delays another's time. A check that raises is "not yet"; its last error goes into `errors`."""
        found: dict[str, float | None] = dict.fromkeys(checks)
        pending = dict(checks)
        for _ in self.rounds():
            for name, check in list(pending.items()):
                try:
                    held = bool(check())
                except Exception as e:
                    held = False
                    if errors is not None:
                        errors[name] = _describe(e)
                if held:
                    found[name] = self.clock.monotonic()
                    del pending[name]
            if not pending:
                break
        return found
