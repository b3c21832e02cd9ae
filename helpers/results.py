"""reports/drill-results.json: the machine-readable record other tools read (DESIGN.md "Outputs").

The keys and their meaning are a contract, so they are spelled out here once, in `to_dict()`
methods, and checked when a record is built (a typo in a status would otherwise reach consumers).
Every string that lands in the file is redacted; problems are one line each.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from helpers.atomic import atomic_write_json
from helpers.clock import iso_utc
from helpers.config import ROLLBACK_TYPES
from helpers.probe import ProbeSummary
from helpers.redact import one_line, redact

__all__ = ["DRILL_TYPES", "OBSERVED", "STATUSES", "DrillRecord", "FaultInfo", "RunResults", "TargetInfo",
           "read_results", "write_results"]

DRILL_TYPES = (*ROLLBACK_TYPES, "emergency")
STATUSES = ("passed", "failed", "error", "skipped")
OBSERVED = ("visible", "latent", "none")


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


@dataclass(frozen=True)
class FaultInfo:
    kind: str | None = None          # e.g. "upstream_switch", "nginx_invalid_config"
    observed: str = "none"           # visible | latent | none

    def __post_init__(self) -> None:
        if self.observed not in OBSERVED:
            raise ValueError(f"fault.observed must be one of {OBSERVED}, got {self.observed!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "observed": self.observed}


@dataclass(frozen=True)
class TargetInfo:
    name: str
    environment: str
    base_url: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "environment": self.environment,
                "base_url": redact(self.base_url)}


@dataclass(frozen=True)
class DrillRecord:
    id: str                               # the pytest node id
    type: str                             # DRILL_TYPES
    status: str                           # STATUSES
    rto_target_s: float | None
    rto_actual_s: float | None = None     # None: never recovered (or never ran)
    command_s: float | None = None        # the rollback command's duration
    command_exit: int | None = None
    fault: FaultInfo = FaultInfo()
    probe: ProbeSummary = ProbeSummary(0, 0, 0.0)
    rpo_acknowledged: int | None = None   # writes the target acknowledged during the drill
    rpo_lost_writes: int | None = None
    restored: bool = True                 # False: restore or its fingerprint check failed
    problems: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.type not in DRILL_TYPES:
            raise ValueError(f"type must be one of {DRILL_TYPES}, got {self.type!r}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if not self.restored and self.status != "error":
            raise ValueError("a drill whose restore failed has status 'error' "
                             f"(got {self.status!r}): use with_restore_failure()")
        object.__setattr__(self, "problems", tuple(one_line(p) for p in self.problems))

    def with_restore_failure(self, problem: str) -> DrillRecord:
        """The restore (or the fingerprint check after it) failed: status error, restored false."""
        return replace(self, status="error", restored=False,
                       problems=(*self.problems, problem))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "status": self.status,
            "rto_target_s": _seconds(self.rto_target_s),
            "rto_actual_s": _seconds(self.rto_actual_s),
            "command_s": _seconds(self.command_s),
            "command_exit": self.command_exit,
            "fault": self.fault.to_dict(),
            "probe": self.probe.to_dict(),
            "rpo_acknowledged": self.rpo_acknowledged,
            "rpo_lost_writes": self.rpo_lost_writes,
            "restored": self.restored,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class RunResults:
    started_at: datetime
    finished_at: datetime
    target: TargetInfo
    drills: tuple[DrillRecord, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"started_at": iso_utc(self.started_at), "finished_at": iso_utc(self.finished_at),
                "target": self.target.to_dict(), "drills": [d.to_dict() for d in self.drills]}


def write_results(path: str | os.PathLike[str], results: RunResults) -> Path:
    """Write the whole file atomically: readers see the old run's file or this one's."""
    return atomic_write_json(path, results.to_dict())


def read_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))
