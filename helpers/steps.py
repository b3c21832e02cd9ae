"""One stream of drill steps: each step is emitted once, and every sink writes it in its own words.

A step carries the two wordings the run has always written, each optional:
- `shown`: the terminal line (fixtures/progress.py writes `[<type> <elapsed>s] <shown>` for a
  drill's step, `[drills] <shown>` for the run's, the line itself for `sandbox up`'s);
- `logged`: the runbook log's event (helpers/drill_log.py writes `<date>: <logged>`).

A heartbeat ("waiting for recovery …") is shown and not logged; an event whose failure says it
on the terminal anyway ("fault no longer present at t0") is logged and not shown. Where both
exist they may differ, as they always did: the terminal line says the budget a rollback started
with, the log line is the runbook's `<type> drill: rollback --type T started`.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from helpers.drill_log import DrillLog

__all__ = ["DrillSteps", "Step", "StepStream", "log_sink"]

Scope = Literal["drill", "run", "sandbox"]


@dataclass(frozen=True)
class Step:
    shown: str | None             # the terminal line's words; None: not shown
    logged: str | None            # the runbook log's event, whole; None: not logged
    scope: Scope = "run"
    drill_id: str | None = None   # scope "drill": which drill, and its type
    drill_type: str | None = None
    starts_drill: bool = False    # the drill's first step: its elapsed time counts from here


Sink = Callable[[Step], None]


class StepStream:
    """The run's one stream: every step goes to every sink, in the order emitted."""

    def __init__(self, *sinks: Sink) -> None:
        self._sinks = list(sinks)
        # The checks during the soak emit from their own thread; a sink may emit in turn.
        self._lock = threading.RLock()

    def add(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def emit(self, step: Step) -> None:
        with self._lock:
            for sink in self._sinks:
                sink(step)

    def run_step(self, shown: str | None, logged: str | None = None) -> None:
        """A step of the run as a whole (target, preflight, a journal restored)."""
        self.emit(Step(shown, logged))

    def sandbox_line(self, line: str) -> None:
        """A progress line of `sandbox up`, shown as it came."""
        self.emit(Step(line, None, "sandbox"))

    def drill(self, drill_id: str, drill_type: str) -> DrillSteps:
        return DrillSteps(self, drill_id, drill_type)


class DrillSteps:
    """One drill's steps. Called with one text, a step is shown only (the drill's heartbeat);
    `logged` adds the runbook log's wording, which reads `<type> drill: <logged>`."""

    def __init__(self, stream: StepStream, drill_id: str, drill_type: str) -> None:
        self.stream, self.drill_id, self.drill_type = stream, drill_id, drill_type

    def _emit(self, shown: str | None, logged: str | None, starts: bool = False) -> None:
        self.stream.emit(Step(shown, logged, "drill", self.drill_id, self.drill_type, starts))

    def started(self) -> None:
        self._emit(f"drill started: {self.drill_id}", f"{self.drill_type} drill started: {self.drill_id}",
                   starts=True)

    def __call__(self, shown: str | None, logged: str | None = None) -> None:
        self._emit(shown, None if logged is None else f"{self.drill_type} drill: {logged}")

    def log(self, logged: str) -> None:
        """Logged, not shown."""
        self(None, logged)


def log_sink(log: DrillLog) -> Sink:
    """The runbook log as a sink: each step that has a log wording is one line."""
    def write(step: Step) -> None:
        if step.logged is not None:
            log.write(step.logged)
    return write
