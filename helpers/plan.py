"""What each drill will do, said before it does it: `--preflight-only`'s plan, and the drill's argv.

`rollback_args` is the one place the rollback command's arguments are made: `Drill.rollback`
spawns `[commands] rollback` + these, and the plan prints `build_argv` of the same, so the line a
team reads before its first night is the command line that night runs (a test compares them).

A drill's rollback (type and tag) and its fault are the drill module's; the plan knows them per
drill type and fault fixture (`ROLLBACKS`, `FAULTS`), and `plan_line` says for one selected drill:
the fault, the exact command line, the budget, and how the restore puts things back.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass

from helpers.commands import build_argv
from helpers.config import TargetConfig
from helpers.redact import redact

__all__ = ["FAULTS", "ROLLBACKS", "DrillPlan", "plan_for", "rollback_args", "rollback_argv", "rollback_reason"]

STABLE = object()  # "the target's [docker] stable_tag"

# drill type -> (the rollback type it runs, its --tag: None, or STABLE for [docker] stable_tag)
ROLLBACKS: dict[str, tuple[str, object]] = {
    "image": ("image", STABLE),
    "nginx": ("nginx", None),
    "database": ("database", None),
    "upstream": ("upstream", None),
    "full": ("full", STABLE),
    "emergency": ("full", STABLE),
}

# fault (the fixture's kind) -> (what it does, how the restore puts it back)
FAULTS: dict[str, tuple[str, str]] = {
    "upstream_switch": ("switch_upstream --target api_v2",
                        "upstream include copied back from the snapshot, nginx -t, reload"),
    "nginx_invalid_config": ("append `invalid_config` to [nginx] conf and reload (latent: nginx -t fails)",
                             "[nginx] conf copied back from the snapshot, nginx -t, reload (or start_cmd)"),
    "nginx_breaks_serving": ("a config that passes nginx -t but answers 503, reloaded",
                             "[nginx] conf copied back from the snapshot, nginx -t, reload (or start_cmd)"),
    "bad_image": ("api_v1 recreated from [docker] bad_tag through the engine",
                  "api_v1 recreated as its snapshot's definition (engine API)"),
    "bad_migration": ("migrate <[database] bad_revision>",
                      "migrate back to the snapshot's revision; snapshot rows put back by primary key"),
    "bad_release": ("bad release: bad image on api_v1, traffic on api_v2, bad migration",
                    "nginx files, schema (migrate), api_v1's container and rows put back from the snapshot"),
}
# which fault fixture a drill uses, by the fixture's name
FAULT_FIXTURES = {"upstream_switched": "upstream_switch", "nginx_invalid_config": "nginx_invalid_config",
                  "nginx_breaks_serving": "nginx_breaks_serving", "bad_image": "bad_image",
                  "bad_migration": "bad_migration", "bad_release": "bad_release"}


def rollback_reason(drill_id: str) -> str:
    return f"rollback drill {drill_id}"


def rollback_args(rollback_type: str, tag: str | None, drill_id: str) -> list[str]:
    """The runbook's arguments the suite appends to `[commands] rollback` (DESIGN.md)."""
    return ["--type", rollback_type, *(["--tag", tag] if tag else []), "--reason", rollback_reason(drill_id), "--yes"]


def rollback_argv(cfg: TargetConfig, rollback_type: str, tag: str | None, drill_id: str) -> list[str]:
    return build_argv(cfg.commands.rollback, rollback_args(rollback_type, tag, drill_id))


@dataclass(frozen=True)
class DrillPlan:
    drill_id: str
    drill_type: str
    fault: str           # the fault's kind ("" when the drill's fault is not known)
    argv: list[str]      # exactly what the drill will spawn
    budget_s: float
    restore: str

    def line(self) -> str:
        what = FAULTS.get(self.fault, ("(fault of this drill)", "back to the snapshot by the suite's own means"))
        return redact(f"{self.drill_id}: fault {self.fault or '?'} ({what[0]}); rollback: {shlex.join(self.argv)}; "
                      f"budget {self.budget_s:g}s; restore: {self.restore}")


def plan_for(cfg: TargetConfig, drill_id: str, drill_type: str, fixture_names: list[str],
             params: dict[str, object]) -> DrillPlan:
    """The plan of one collected drill (its id, `drill_type` marker, fixtures and parameters)."""
    rollback_type, tag = ROLLBACKS[drill_type]
    fault = next((FAULT_FIXTURES[n] for n in fixture_names if n in FAULT_FIXTURES), "")
    if not fault and drill_type == "nginx":
        fault = f"nginx_{params.get('nginx_fault', '')}"
    restore = FAULTS.get(fault, ("", "back to the snapshot by the suite's own means"))[1]
    return DrillPlan(drill_id, drill_type, fault,
                     rollback_argv(cfg, rollback_type, cfg.docker.stable_tag if tag is STABLE else None, drill_id),
                     cfg.rto.budget(drill_type), restore + "; proved by a fresh fingerprint and the final verify")
