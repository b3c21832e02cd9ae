"""What one drill learned, built up by the fixtures as it runs; the report and the JSON read it.

A DrillOutcome is mutable on purpose: snapshot, fault, probe, rollback and restore each fill in
their part, and whatever part a failure cut short stays empty rather than invented. The pytest
layer keeps one per test in `item.stash` and the run's context in `config.stash`
(fixtures/outcomes.py); `DrillOutcome.record(status)` turns it into the JSON row of DESIGN.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from helpers.commands import CommandResult
from helpers.probe import Sample, summarize
from helpers.redact import one_line
from helpers.results import DrillRecord, FaultInfo

__all__ = ["CHECKLIST", "MARKS", "Check", "DrillOutcome", "RunContext"]

# The runbook's three checklists, in its order. Items only people can check are "manual".
CHECKLIST: dict[str, tuple[str, ...]] = {
    "before": ("staging_available", "rollback_executable", "backups_complete", "monitoring_ok",
               "team_notified"),
    "during": ("rollback_succeeded", "system_status_ok", "functional_verified", "performance_ok",
               "monitoring_correct"),
    "after": ("fully_restored", "drill_log_complete", "problems_recorded", "suggestions_clear",
              "team_summary"),
}
MANUAL_ITEMS = frozenset({"team_notified", "team_summary"})
CHECK_RESULTS = ("pass", "fail", "manual", "not_run")

# Timeline marks, in the order they happen (monotonic seconds, the probe's clock).
MARKS = ("fault_injected", "rollback_start", "rollback_exit", "recovered", "soak_start", "relapse", "soak_end")


@dataclass
class Check:
    phase: str        # before | during | after
    item: str         # a CHECKLIST key
    result: str       # CHECK_RESULTS
    detail: str = ""

    def __post_init__(self) -> None:
        if self.item not in CHECKLIST.get(self.phase, ()):
            raise ValueError(f"{self.item!r} is not a {self.phase!r} checklist item")
        if self.result not in CHECK_RESULTS:
            raise ValueError(f"check result must be one of {CHECK_RESULTS}, got {self.result!r}")
        self.detail = one_line(self.detail, limit=300)


@dataclass
class DrillOutcome:
    id: str
    type: str
    rto_target_s: float
    expected_version: str | None = None
    expected_pool: str | None = None
    fault_kind: str | None = None
    fault_observed: str = "none"        # visible | latent | none
    fault_detail: str = ""              # how the fault was seen
    marks: dict[str, float] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    command: CommandResult | None = None
    rto_actual_s: float | None = None
    rpo_acknowledged: int | None = None
    rpo_lost_writes: int | None = None
    rpo_measured: bool = True           # False: [rpo] enabled = false, no writes were made
    perf: dict[str, Any] | None = None  # requests, errors, p50_ms, p95_ms, max_ms
    checks: list[Check] = field(default_factory=list)
    attachments: dict[str, str] = field(default_factory=dict)  # title -> text (redacted on write)
    problems: list[str] = field(default_factory=list)
    restored: bool = True
    restore_detail: str = ""

    def mark(self, name: str, t: float) -> None:
        if name not in MARKS:
            raise ValueError(f"unknown timeline mark {name!r}")
        self.marks[name] = t

    def check(self, phase: str, item: str, ok: bool | None, detail: str = "") -> None:
        """Record a checklist item; ok=None means it did not run (an earlier step failed)."""
        result = "manual" if item in MANUAL_ITEMS else ("not_run" if ok is None else ("pass" if ok else "fail"))
        self.checks = [c for c in self.checks if (c.phase, c.item) != (phase, item)]
        self.checks.append(Check(phase, item, result, detail))

    def problem(self, text: str) -> None:
        line = one_line(text, limit=500)
        if line not in self.problems:
            self.problems.append(line)

    def record(self, status: str) -> DrillRecord:
        if not self.restored:
            status = "error"
        return DrillRecord(
            id=self.id, type=self.type, status=status, rto_target_s=self.rto_target_s,
            rto_actual_s=self.rto_actual_s,
            command_s=self.command.duration_s if self.command else None,
            command_exit=self.command.exit_code if self.command else None,
            fault=FaultInfo(self.fault_kind, self.fault_observed),
            probe=summarize(self.samples), rpo_acknowledged=self.rpo_acknowledged,
            rpo_lost_writes=self.rpo_lost_writes, restored=self.restored, problems=tuple(self.problems))


@dataclass
class RunContext:
    """The run as a whole: when, against what, and the before-drill checklist (preflight)."""
    started_at: datetime
    target_name: str = ""
    environment: str = ""
    base_url: str = ""
    preflight: list[Check] = field(default_factory=list)
    environment_info: dict[str, str] = field(default_factory=dict)  # tool versions, image tags, git rev
    participants: list[str] = field(default_factory=list)
    language: str = "en"
    rto_budgets: dict[str, float] = field(default_factory=dict)  # [rto] of the target, per type
    notes: list[str] = field(default_factory=list)      # run-level events: aborted, interrupted, recovered
    started: list[DrillOutcome] = field(default_factory=list)  # every drill that began, finished or not

    def note(self, text: str) -> None:
        line = one_line(text, limit=500)
        if line not in self.notes:
            self.notes.append(line)
    outcomes: list[tuple[DrillOutcome, str]] = field(default_factory=list)  # (outcome, final status)
