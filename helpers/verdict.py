"""The verdict on one rollback: small checks, each returning its problems (one line each, [] when
it is fine), most telling first. The drill fails with all of them, the first as its headline.

The command, the recovery and the end state are judged from what was measured and read; verify,
the performance smoke with /metrics, the host checks and the RPO read the target themselves and
record their checklist items on the drill's outcome as they go.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from helpers import commands, nginx_ops
from helpers.commands import CommandResult
from helpers.container_definition import rollback_changes
from helpers.engine_api import ContainerDefinition, Engine
from helpers.fingerprint import Fingerprint, load_backup, snapshot_rows_damage
from helpers.front import Front
from helpers.host_checks import container_checks, failed, host_checks
from helpers.http_clients import HttpClients
from helpers.metrics import build_info_version, fetch as fetch_metrics, request_counters, total_requests
from helpers.outcome import DrillOutcome
from helpers.perf import perf_smoke, team_smoke
from helpers.rto import Recovery, SoakResult

__all__ = ["attach_troubleshooting", "command_problems", "end_state_problems", "functional_problems", "guarded",
           "host_problems", "performance_and_monitoring_problems", "performance_problems", "recovery_problems",
           "rpo_problems"]

IDS_NAMED = 10  # primary keys a damaged-rows problem names, at most


def guarded(check: Callable[..., list[str]], *args: Any) -> list[str]:
    """`check(*args)`, and an exception (database down, engine gone) as one problem naming it:
    every check runs even when another one raised, so the failure keeps its headline."""
    try:
        return check(*args)
    except Exception as e:
        named = getattr(check, "func", check)  # a functools.partial names its function
        name = getattr(named, "__name__", "check").replace("_problems", "")
        return [f"{name} check could not run: {type(e).__name__}: {e}"]


# -- from what was measured ---------------------------------------------------------------------
def command_problems(command: CommandResult, budget_s: float) -> list[str]:
    if command.timed_out:
        return [f"rollback command still running at the {budget_s:g}s budget: killed"]
    if command.exit_code != 0:
        last = (command.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        return [f"rollback exited {command.exit_code}: {last}"]
    return []


def recovery_problems(recovery: Recovery, soak: SoakResult | None, *, late_rto_s: float | None, budget_s: float,
                      rto_key: str, soak_s: float) -> list[str]:
    """Not recovered within the budget (and how late it did, if it did), or a soak that failed."""
    if not recovery.recovered:
        why = recovery.explain().split(": ", 1)[-1]
        late = (f"; it recovered {late_rto_s:.2f}s after the rollback started, over budget"
                if late_rto_s is not None else "")
        return [f"not recovered within the {budget_s:g}s RTO budget ([rto] {rto_key}): {why}{late}"]
    if soak is not None and not soak.ok:
        return [f"recovery did not hold until {soak_s:g}s after the rollback was over: {soak.problem()}"]
    return []


def end_state_problems(now: Fingerprint, *, snapshot: Fingerprint, rollback_type: str, revision: str | None,
                       tag: str | None, expected_image_id: str | None, nginx_test_ok: bool) -> list[str]:
    """The target as read afresh after the rollback, against what it should be."""
    out = []
    if now.active_pool != "api_v1":
        out.append(f"end state: traffic on {now.active_pool}, not api_v1")
    if revision and now.db_revision != revision:
        out.append(f"end state: database at {now.db_revision}, not {revision}")
    if rollback_type in ("nginx", "full") and now.nginx_conf_sha256 != snapshot.nginx_conf_sha256:
        out.append("end state: nginx config is not the known-good one")
    if not nginx_test_ok:
        out.append("end state: nginx -t fails")
    got_image = now.containers["api_v1"].image_id
    if expected_image_id and got_image != expected_image_id:
        out.append(f"end state: api_v1 runs {now.containers['api_v1'].ref} ({got_image[:19]}), "
                   f"not the image of {tag or 'the snapshot'} ({expected_image_id[:19]})")
    return out


def definition_problems(now: Fingerprint, saved: Mapping[str, ContainerDefinition]) -> list[str]:
    """The right version in a degraded container is not a rollback: each service container's
    definition must be the snapshot's (`saved`), but for the image and what it brings and the marks
    the fault left (its label, the compose labels it left out), which the restore takes away."""
    out = []
    for key, was in saved.items():
        state = now.containers.get(key)
        if state is None or state.settings is None:
            continue  # a missing container is named by the other checks and by the restore
        changed = rollback_changes(was.definition, state.settings)
        if changed:
            more = f" (and {len(changed) - 6} more)" if len(changed) > 6 else ""
            out.append(f"end state: {was.name} ({key}) came back with another definition: "
                       f"{'; '.join(changed[:6])}{more}")
    return out


# -- reading the target -------------------------------------------------------------------------
def functional_problems(cfg: Any, outcome: DrillOutcome, version: str | None) -> list[str]:
    verify = commands.run_verify(cfg, version)
    outcome.check("during", "functional_verified", verify.ok, verify.summary())
    return [] if verify.ok else [f"verify --expect-version {version} failed: {verify.summary()}"]


def performance_problems(cfg: Any, outcome: DrillOutcome, http: HttpClients) -> list[str]:
    """The team's `[commands] perf_smoke` (its exit status is the verdict; its output's tail is
    attached when it fails), else the built-in smoke through the front."""
    if cfg.commands.perf_smoke:
        result = team_smoke(cfg)
        outcome.check("during", "performance_ok", result.ok, f"perf_smoke: {result.summary()}")
        if result.ok:
            return []
        tail = result.stdout[-6000:] + ("\n--- stderr ---\n" + result.stderr[-6000:] if result.stderr else "")
        outcome.attachments["perf_smoke output (tail)"] = tail or "(no output)"
        return [f"performance smoke: perf_smoke {result.summary()}"]
    perf = perf_smoke(cfg.target.base_url, cfg.perf.requests, cfg.perf.p95_ms, http=http)
    outcome.perf = perf.to_dict()
    outcome.check("during", "performance_ok", perf.ok,
                  f"{perf.requests} requests, {perf.errors} errors, p95 "
                  f"{'-' if perf.p95_ms is None else f'{perf.p95_ms:.1f}'} ms (budget {cfg.perf.p95_ms} ms)")
    return [] if perf.ok else [f"performance smoke: {perf.problem}"]


def performance_and_monitoring_problems(cfg: Any, outcome: DrillOutcome, version: str | None,
                                        http: HttpClients) -> list[str]:
    """The performance smoke with `/metrics` before and after it (`[metrics]`: the build info
    shows `version`, a request counter rose). `[metrics] enabled = false`: monitoring is "not
    checked" (not_run), never a pass."""
    metrics = cfg.metrics
    if not metrics.enabled:
        outcome.check("during", "monitoring_correct", None, "metrics not checked ([metrics] enabled = false)")
        return performance_problems(cfg, outcome, http)
    before = fetch_metrics(cfg.target.api_url, http=http)
    problems = performance_problems(cfg, outcome, http)
    after = fetch_metrics(cfg.target.api_url, http=http)
    shown = build_info_version(after or "", metrics.build_info)
    rose = bool(before and after and request_counters(after, metrics.requests_total)
                and total_requests(after, metrics.requests_total) > total_requests(before, metrics.requests_total))
    if after is None:
        problems.append("monitoring: /metrics does not answer")
    else:
        if version and shown != version:
            problems.append(f"monitoring: /metrics build info shows {shown}, not {version}")
        if not rose:
            problems.append("monitoring: no request counter rose across the performance smoke")
    outcome.check("during", "monitoring_correct", after is not None and rose and (version is None or shown == version),
                  f"build info {shown}; request counter rose: {rose}")
    return problems


def host_problems(cfg: Any, front: Front, engine: Engine, expected_image_id: str | None) -> list[str]:
    """testinfra checks of the front host (this one, or `[front]` through testinfra's ssh
    backend over the run's connection) and the engine's view of containers."""
    want = {"api_v1": expected_image_id or ""}
    if front.checks_host_of(cfg.target.base_url):
        checks = host_checks(front, cfg, engine=engine, expected_image_ids=want)
    else:  # no shell on a remote host from here: the engine's view still counts
        checks = container_checks(engine, cfg.services.items(), want)
    return [f"host check failed: {c.name}: {c.detail}" for c in failed(checks)]


def _ids(keys: Iterable[Any]) -> str:
    return ", ".join(map(str, list(keys)[:IDS_NAMED]))


def rpo_problems(cfg: Any, outcome: DrillOutcome, writer: Any, backup_rows: Any) -> list[str]:
    """Every acknowledged write readable afterwards (SQL, the authoritative store), and every
    row of the snapshot unchanged. The restore puts damaged snapshot rows back later; the
    drill still fails here. `writer` None: `[rpo] enabled = false`, no writes, no RPO figure."""
    if writer is None:
        damage = snapshot_rows_damage(cfg.database.url, cfg.database.table, load_backup(backup_rows))
        outcome.rpo_measured = False
        outcome.rpo_acknowledged = None
        outcome.rpo_lost_writes = None
        return ([f"snapshot rows damaged: {damage.lost_count} lost, {damage.changed_count} changed "
                 f"(ids {_ids(damage.lost + damage.changed)})"] if damage else [])
    writer.stop()
    rpo = writer.verify(cfg.database.url, cfg.database.table, pk=cfg.database.primary_key)
    damage = snapshot_rows_damage(cfg.database.url, cfg.database.table, load_backup(backup_rows))
    outcome.rpo_acknowledged = rpo.acknowledged
    # None when the read-back itself failed: "0 lost" would be a claim nobody checked.
    outcome.rpo_lost_writes = (len(rpo.lost) + len(rpo.changed) + damage.lost_count + damage.changed_count
                               if rpo.verified or damage else None)
    problems = [] if rpo.ok else [rpo.verdict()]
    if damage:
        problems.append(f"RPO: snapshot rows damaged: {damage.lost_count} lost, {damage.changed_count} changed "
                        f"(ids {_ids(damage.lost + damage.changed)})")
    return problems


def attach_troubleshooting(cfg: Any, outcome: DrillOutcome, front: Front, engine: Engine) -> None:
    """What the runbook's troubleshooting asks for: the rollback's stderr, logs."""
    c = outcome.command
    if c is not None:
        outcome.attachments["rollback stderr"] = c.stderr[-8000:] or "(empty)"
    try:
        outcome.attachments["api_v1 container log (tail)"] = engine.logs_tail(cfg.services.api_v1, 40)
    except Exception as e:  # an attachment that cannot be read says why instead
        outcome.attachments["api_v1 container log (tail)"] = f"(unavailable: {e})"
    outcome.attachments["nginx error log (tail)"] = nginx_ops.error_log_tail(front, cfg, 30)
