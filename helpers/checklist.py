"""The runbook's before-drill checklist, as plain code: what preflight and `--preflight-only` ask.

`before_drill` reads the target (front, commands, fingerprint, `nginx -t`, backups, `/metrics`,
leftover containers) and says, one line each, every way it cannot be drilled now: off its
baseline (naming what differs), or a checklist item that failed. It changes nothing: the
drill-start alert is the caller's (`alert`: a command started before and awaited after the reads,
which it overlaps), and a pending journal is only named (the fixture restores it first; the
preflight-only run never restores).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from helpers import commands, nginx_ops
from helpers.baseline import differences
from helpers.config import TargetConfig
from helpers.database import Database
from helpers.engine_api import Engine
from helpers.fingerprint import Fingerprint, read_fingerprint
from helpers.front import Front
from helpers.http_clients import HttpClients
from helpers.metrics import fetch as fetch_metrics
from helpers.outcome import MANUAL_ITEMS, Check
from helpers.probe import StatusFields, front_status

__all__ = ["COMMAND_KEYS", "Checklist", "before_drill", "learn_pools"]

COMMAND_KEYS = ("rollback", "switch_upstream", "verify", "alert", "migrate")


@dataclass
class Checklist:
    checks: list[Check] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # [] = the target can be drilled
    fingerprint: Fingerprint | None = None
    version: str | None = None
    pool: str | None = None
    status: StatusFields = field(default_factory=StatusFields)  # with the pools learnt (learn_pools)

    def add(self, item: str, ok: bool | None, detail: str = "") -> None:
        result = "manual" if item in MANUAL_ITEMS else ("not_run" if ok is None else ("pass" if ok else "fail"))
        self.checks.append(Check("before", item, result, detail))


def learn_pools(cfg: TargetConfig, engine: Engine, fp: Fingerprint, status: StatusFields) -> StatusFields:
    """For an app whose `/status` shows no pool: the release each pool's container runs (by image
    ID, from the engine), so that an answer's version names its pool when the two releases
    differ. When they are the same (or unknown), answers cannot name a pool: the upstream include
    alone shows where traffic goes, and an upstream fault is latent."""
    if status.pool_field:
        return status
    by_id: dict[str, str] = {}
    for tag in cfg.releases:
        image_id = engine.image_id_of(f"{cfg.docker.image}:{tag}")
        if image_id and image_id not in by_id:
            by_id[image_id] = tag
    serves = {pool: by_id.get(state.image_id) for pool, state in fp.containers.items()}
    releases = [r for r in serves.values() if r]
    if len(releases) != len(serves) or len(set(releases)) != len(releases):
        return StatusFields(status.version_field, "", {})
    return StatusFields(status.version_field, "", {release: pool for pool, release in serves.items() if release})


def before_drill(cfg: TargetConfig, *, front: Front, database: Database, engine: Engine, http: HttpClients,
                 status: StatusFields,
                 state_dir: Path, stable: str, stable_image_id: str | None, journal_pending: bool,
                 alert: Callable[[], str] | None = None) -> Checklist:
    """Every item of the checklist and every problem. `alert` is awaited after the reads and
    returns the team_notified detail (None: no alert is sent, as in `--preflight-only`)."""
    out = Checklist()
    not_runnable = [f"{key}: {problem}" for key in COMMAND_KEYS
                    if (problem := commands.command_problem(getattr(cfg.commands, key)))]
    if cfg.commands.perf_smoke and (problem := commands.command_problem(cfg.commands.perf_smoke)):
        not_runnable.append(f"perf_smoke: {problem}")
    fp = read_fingerprint(cfg, front, database, engine)  # without the rows: they are read by the snapshot
    status = learn_pools(cfg, engine, fp, status)
    health, version, pool = front_status(http, status, cfg.target.base_url)
    out.add("staging_available", health == 200, f"{cfg.target.base_url}/healthz -> {health}; version {version}, "
            f"pool {pool if status.shows_pool else '(not shown by /status; include: ' + str(fp.active_pool) + ')'}")
    out.add("rollback_executable", not not_runnable,
            "; ".join(not_runnable) or "every [commands] entry starts with an executable file")
    test = nginx_ops.config_test(front, cfg)
    out.add("backups_complete", *_backups_possible(front, cfg, state_dir))
    if cfg.metrics.enabled:
        out.add("monitoring_ok", fetch_metrics(cfg.target.api_url, http=http) is not None,
                f"{cfg.target.api_url}/metrics")
    else:
        out.add("monitoring_ok", None, "metrics not checked ([metrics] enabled = false)")
    out.add("team_notified", None, alert() if alert is not None else "no drill-start alert (--preflight-only)")
    out.fingerprint, out.version, out.pool, out.status = fp, version, pool, status
    front_pool = pool if status.shows_pool else fp.active_pool  # no pool in /status: the include says
    diffs = differences(cfg, fp, stable=stable, stable_image_id=stable_image_id, front_version=version,
                        front_pool=front_pool, nginx_test_ok=test.ok,
                        nginx_backup_sha256=front.sha256(cfg.nginx.backup), journal_pending=journal_pending)
    diffs += _leftover_containers(cfg, engine)
    diffs += [f"compose: {name} {state}" for name, state in fp.compose_sync.items() if state != "in sync"]
    if diffs:
        out.problems.append(f"preflight: target {cfg.target.name} is not at its baseline: " + "; ".join(diffs))
    out.problems += [f"preflight: {c.item} failed: {c.detail}" for c in out.checks if c.result == "fail"]
    return out


def _leftover_containers(cfg: TargetConfig, engine: Engine) -> list[str]:
    """Containers set aside beside a service by a swap that never finished: the suite removes its
    own when it restores; anything else is named, for a person to look at."""
    return [f"leftover container {left.name} beside {name}"
            + ("" if left.ours else " (not set aside by this suite: inspect and remove it by hand)")
            for _key, name in cfg.services.items() for left in engine.leftovers_beside(name)]


def _backups_possible(front: Front, cfg: TargetConfig, state_dir: Path) -> tuple[bool, str]:
    """The runbook's "backup files complete": the known-good nginx backup exists on the front, and
    the suite can write its own snapshot copies (tried, not assumed)."""
    probe_file = state_dir / ".write-test"
    try:
        probe_file.write_text("ok")
        probe_file.unlink()
        writable = True
    except OSError:
        writable = False
    present = front.exists(cfg.nginx.backup)
    return present and writable, (f"nginx backup {cfg.nginx.backup} {'present' if present else 'MISSING'}; "
                                  f"snapshot folder {state_dir} {'writable' if writable else 'NOT writable'}")
