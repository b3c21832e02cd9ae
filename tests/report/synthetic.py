"""A synthetic drill run for the report tests: real Sample lists, real outcomes, no target.

Six drills, each showing something the report must render:
- upstream   passed; its fault put traffic on api_v2 (wrong pool), RTO slower than its history;
- image      passed, but its RTO used 88% of its (shrunk) target;
- nginx      failed: latent fault, the rollback command exited 1, attachments, passed last run;
- database   error: restore failed, 2 of 40 acknowledged writes lost;
- full       passed with an unverified RPO (no acknowledged writes);
- emergency  skipped.
A secret is registered with the redactor and planted in command output, attachments and config
strings: it must appear nowhere in what the report renders.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from helpers.commands import CommandResult
from helpers.outcome import Check, DrillOutcome, RunContext
from helpers.probe import Sample
from helpers.redact import register_secret

SECRET = "Zq9-planted-Secret-7731"
register_secret(SECRET)

STARTED = datetime(2025, 1, 31, 2, 0, 0, tzinfo=UTC)
T = 1000.0  # monotonic origin of every drill's timeline
STABLE, NEXT = "v1.0.0", "v2.0.0"


def probe(start: float, end: float, state: Callable[[float], tuple[int | None, str | None, str | None]],
          interval: float = 0.05) -> list[Sample]:
    """Samples every `interval` from start to end; `state(t)` gives (healthz status, version, pool)."""
    out, t = [], start
    while t <= end + 1e-9:
        status, version, pool = state(t)
        out.append(Sample(t=round(t, 4), status=status, latency_ms=2.0 if status else 250.0,
                          version=version, pool=pool,
                          error=None if status else "ConnectError: connection refused",
                          sent=round(t - 0.002, 4)))
        t += interval
    return out


def command(args: str, exit_code: int, start: float, duration: float, stdout: str = "",
            stderr: str = "", timed_out: bool = False) -> CommandResult:
    argv = ("/srv/aura/scripts/rollback.sh", "--config", "/etc/aura/staging.toml", *args.split())
    return CommandResult(argv=argv, exit_code=exit_code, stdout=stdout, stderr=stderr, started=start,
                         ended=start + duration, timed_out=timed_out)


def _checks(o: DrillOutcome, during: dict[str, bool | None], after: dict[str, bool | None]) -> None:
    for item, ok in during.items():
        o.check("during", item, ok, "" if ok else f"{item} failed in {o.type}")
    for item, ok in after.items():
        o.check("after", item, ok)


def upstream() -> DrillOutcome:
    o = DrillOutcome(id="drills/test_upstream.py::test_upstream_switch_rollback", type="upstream",
                     rto_target_s=60, expected_version=STABLE, expected_pool="api_v1",
                     fault_kind="upstream_switch", fault_observed="visible",
                     fault_detail="/status shows pool api_v2")
    o.mark("fault_injected", T + 0.5)
    o.mark("rollback_start", T + 1.5)
    o.mark("rollback_exit", T + 1.8)
    o.mark("recovered", T + 1.92)
    o.mark("soak_end", T + 3.92)
    o.samples = probe(T, T + 4.0, lambda t: (200, STABLE, "api_v1") if t < T + 0.55 or t >= T + 1.9
                      else (200, NEXT, "api_v2"))
    o.command = command("--type upstream --reason drill --yes", 0, T + 1.5, 0.3,
                        stdout="switched upstream to api_v1\nnginx reloaded\n")
    o.rto_actual_s = 0.42
    o.rpo_acknowledged, o.rpo_lost_writes = 58, 0
    o.perf = {"requests": 200, "errors": 0, "p50_ms": 3.1, "p95_ms": 7.9, "max_ms": 15.2}
    _checks(o, {"rollback_succeeded": True, "system_status_ok": True, "functional_verified": True,
                "performance_ok": True, "monitoring_correct": True},
            {"fully_restored": True, "drill_log_complete": True})
    return o


def image() -> DrillOutcome:
    o = DrillOutcome(id="drills/test_image.py::test_image_rollback", type="image", rto_target_s=5,
                     expected_version=STABLE, expected_pool="api_v1", fault_kind="bad_image_deployed",
                     fault_observed="visible", fault_detail="healthz 503 from v1.2.0-bad")
    o.mark("fault_injected", T + 0.4)
    o.mark("rollback_start", T + 1.0)
    o.mark("rollback_exit", T + 4.9)
    o.mark("recovered", T + 5.4)
    o.mark("soak_end", T + 7.4)

    def state(t: float) -> tuple[int | None, str | None, str | None]:
        if t < T + 0.45:
            return 200, STABLE, "api_v1"
        if t < T + 3.0:
            return 503, "v1.2.0-bad", "api_v1"
        if t < T + 4.2:
            return None, None, None
        if t < T + 5.4:
            return 200, "v1.2.0-bad", "api_v1"
        return 200, STABLE, "api_v1"
    o.samples = probe(T, T + 7.5, state)
    o.command = command("--type image --tag v1.0.0 --reason drill --yes", 0, T + 1.0, 3.9,
                        stdout="recreating aura-api-v1 with aura-api:v1.0.0\nhealthy\n")
    o.rto_actual_s = 4.4
    o.rpo_acknowledged, o.rpo_lost_writes = 61, 0
    o.perf = {"requests": 200, "errors": 0, "p50_ms": 4.0, "p95_ms": 11.0, "max_ms": 30.0}
    _checks(o, {"rollback_succeeded": True, "system_status_ok": True, "functional_verified": True,
                "performance_ok": True, "monitoring_correct": True},
            {"fully_restored": True, "drill_log_complete": True})
    return o


def nginx() -> DrillOutcome:
    o = DrillOutcome(id="drills/test_nginx.py::test_nginx_config_rollback", type="nginx",
                     rto_target_s=120, expected_version=STABLE, expected_pool="api_v1",
                     fault_kind="nginx_invalid_config", fault_observed="latent",
                     fault_detail='nginx -t: unknown directive "invalid_config"')
    o.mark("fault_injected", T + 0.3)
    o.mark("rollback_start", T + 1.0)
    o.mark("rollback_exit", T + 1.6)
    o.samples = probe(T, T + 3.0, lambda t: (200, STABLE, "api_v1"))
    o.command = command("--type nginx --reason drill --yes", 1, T + 1.0, 0.6,
                        stdout="restoring nginx config from backup\n",
                        stderr=f"cp: cannot stat '/etc/nginx/nginx.conf.backup': No such file\n"
                               f"webhook https://hooks.example.com/hooks/{SECRET} failed\n"
                               "<script>alert('x')</script>\n")
    o.rto_actual_s = None
    o.rpo_acknowledged, o.rpo_lost_writes = 30, 0
    o.problem("rollback command exited 1 (expected 0)")
    o.problem("nginx -t still fails after rollback: the config was never restored")
    o.attachments = {
        "rollback stderr": o.command.stderr,
        "API container log tail": "GET /healthz 200\nGET /status 200\n",
        "nginx error log tail": '[emerg] unknown directive "invalid_config" in nginx.staging.conf:42\n'
                                f"upstream auth token={SECRET}\n",
    }
    _checks(o, {"rollback_succeeded": False, "system_status_ok": True, "functional_verified": None,
                "performance_ok": None, "monitoring_correct": None},
            {"fully_restored": True, "drill_log_complete": True})
    # a Check that claims a manual item passed: the report must still show it as manual
    o.checks.append(Check("after", "team_summary", "pass", "auto-ticked by mistake"))
    return o


def database() -> DrillOutcome:
    o = DrillOutcome(id="drills/test_database.py::test_database_migration_rollback", type="database",
                     rto_target_s=10, expected_version=STABLE, expected_pool="api_v1",
                     fault_kind="bad_migration", fault_observed="visible",
                     fault_detail="schema at 0003_rename_item; healthz 503")
    o.mark("fault_injected", T + 0.2)
    o.mark("rollback_start", T + 0.8)
    o.mark("rollback_exit", T + 2.3)
    o.mark("recovered", T + 2.5)
    o.mark("soak_end", T + 4.5)
    o.samples = probe(T, T + 4.6, lambda t: (200, STABLE, "api_v1") if t < T + 0.25 or t >= T + 2.5
                      else (503, STABLE, "api_v1"))
    o.command = command("--type database --reason drill --yes", 0, T + 0.8, 1.5,
                        stdout="alembic downgrade 0002_customer\n")
    o.rto_actual_s = 1.7
    o.rpo_acknowledged, o.rpo_lost_writes = 40, 2
    o.problem("RPO: 2 of 40 acknowledged writes lost (ids 17, 18)")
    o.restored = False
    o.restore_detail = ("fingerprint differs after restore: database revision 0003_rename_item != "
                        f"0002_customer (postgresql://aura:{SECRET}@127.0.0.1:18084/aura)")
    o.attachments = {"rollback stderr": "", "API container log tail": "psycopg.errors.UndefinedColumn\n"}
    _checks(o, {"rollback_succeeded": True, "system_status_ok": True, "functional_verified": True,
                "performance_ok": True, "monitoring_correct": True},
            {"fully_restored": False, "drill_log_complete": True})
    return o


def full() -> DrillOutcome:
    o = DrillOutcome(id="drills/test_full.py::test_full_rollback", type="full", rto_target_s=15,
                     expected_version=STABLE, expected_pool="api_v1", fault_kind="bad_release",
                     fault_observed="visible", fault_detail="version v1.2.0-bad, healthz 503")
    o.mark("fault_injected", T + 0.2)
    o.mark("rollback_start", T + 0.6)
    o.mark("rollback_exit", T + 3.0)
    o.mark("recovered", T + 3.1)
    o.mark("soak_end", T + 5.1)
    o.samples = probe(T, T + 5.2, lambda t: (200, STABLE, "api_v1") if t < T + 0.25 or t >= T + 3.1
                      else ((503, "v1.2.0-bad", "api_v1") if t < T + 2.0 else (200, "v1.1.0", "api_v1")))
    o.command = command("--type full --tag v1.0.0 --reason drill --yes", 0, T + 0.6, 2.4,
                        stdout="image + database rolled back to v1.0.0\n")
    o.rto_actual_s = 2.5
    o.rpo_acknowledged, o.rpo_lost_writes = 0, 0
    o.perf = {"requests": 200, "errors": 0, "p50_ms": 3.0, "p95_ms": 9.0, "max_ms": 22.0}
    _checks(o, {"rollback_succeeded": True, "system_status_ok": True, "functional_verified": True,
                "performance_ok": True, "monitoring_correct": True},
            {"fully_restored": True, "drill_log_complete": True})
    return o


def emergency() -> DrillOutcome:
    return DrillOutcome(id="drills/test_emergency.py::test_emergency_rollback", type="emergency",
                        rto_target_s=15)


def run_context(language: str = "en") -> RunContext:
    run = RunContext(started_at=STARTED, target_name="aura-sandbox", environment="staging",
                     base_url=f"http://ops:{SECRET}@127.0.0.1:18080", participants=["Li Wei", "Ana"],
                     language=language,
                     environment_info={"nginx": "nginx/1.22.1", "Container engine": "Podman Engine 4.3.1",
                                       "Image api_v1": "localhost/aura-api:v1.0.0 (3f2a9c1d7e00)",
                                       "Suite revision": "600ce06 (modified)"})
    for item, ok in (("staging_available", True), ("rollback_executable", True),
                     ("backups_complete", True), ("monitoring_ok", True), ("team_notified", True)):
        check = Check("before", item, "manual" if item == "team_notified" else ("pass" if ok else "fail"))
        run.preflight.append(check)
    run.outcomes = [(upstream(), "passed"), (image(), "passed"), (nginx(), "failed"),
                    (database(), "error"), (full(), "passed"), (emergency(), "skipped")]
    return run


def previous_history() -> list[dict]:
    """Two earlier runs of the same target (and one of another target, to be ignored)."""
    def entry(run_id: str, target: str, upstream_rto: float, nginx_status: str) -> dict:
        return {"run_id": run_id, "started_at": run_id, "finished_at": run_id, "target": target,
                "environment": "staging",
                "drills": [{"id": "u", "type": "upstream", "status": "passed", "rto_actual_s": upstream_rto,
                            "rto_target_s": 60},
                           {"id": "n", "type": "nginx", "status": nginx_status, "rto_actual_s": 0.6,
                            "rto_target_s": 120},
                           {"id": "i", "type": "image", "status": "passed", "rto_actual_s": 4.1,
                            "rto_target_s": 5}]}
    return [entry("2024-12-29T02:00:00Z", "aura-sandbox", 0.20, "passed"),
            entry("2024-12-30T02:00:00Z", "aura-sandbox", 0.25, "passed"),
            entry("2024-12-30T03:00:00Z", "other-staging", 9.0, "failed")]


FINISHED = datetime(2025, 1, 31, 2, 3, 5, tzinfo=UTC)
