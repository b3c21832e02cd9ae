"""The report of a real run with passing and failing drills, against the real sandbox.

One drill passes (upstream); one fails (nginx, the runbook's latent fault) because its rollback
command is a real executable that exits 1 — after printing the database URL and the webhook URL,
as a careless script might. Nothing secret may reach the run's reports folder (a temporary
--reports-dir: a test run never writes to the project's reports/).
"""
from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.drills.suite_runner import executable, run_suite, sandbox_at_baseline, toml_overlay

pytestmark = pytest.mark.e2e

CONTRACT_KEYS = {"id", "type", "status", "rto_target_s", "rto_actual_s", "command_s", "command_exit",
                 "fault", "probe", "rpo_acknowledged", "rpo_lost_writes", "restored", "problems"}


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory, main_sandbox):
    cfg = tomllib.loads(main_sandbox.read_text())
    alerting = shlex.split(cfg["commands"]["alert"])[-1]  # "<alert-webhook.sh> --config <alerting.toml>"
    webhook = tomllib.loads(Path(alerting).read_text())["webhook_url"]
    secrets = {"database password": cfg["database"]["url"].split(":")[2].split("@")[0],
               "webhook token": webhook.rsplit("/", 1)[1]}
    assert all(len(s) >= 12 for s in secrets.values())
    tmp = tmp_path_factory.mktemp("mixed")
    body = (f'if [[ " $* " == *" --type nginx "* ]]; then\n'
            f'  echo "rollback: connecting to {cfg["database"]["url"]}"\n'
            f'  echo "rollback: cannot reach {cfg["database"]["url"]}; alerting {webhook}" >&2\n'
            f'  exit 1\n'
            f'fi\nexec {cfg["commands"]["rollback"]} "$@"\n')
    overlay = toml_overlay(tmp / "overlay.toml", {
        "commands": {"rollback": executable(tmp / "rollback", body)},
        "rto": {"nginx": 2}, "probe": {"soak_s": 0.5}, "report": {"participants": ["Li Lei", "Han Meimei"]}})
    run = run_suite("--drill-config", str(overlay), "-k", "upstream or invalid_config", reports=tmp / "reports")
    return run, secrets


def test_the_rto_table_shows_actual_times_and_statuses(mixed_run):
    run, _ = mixed_run
    assert run.exit_code == 1
    html = (run.reports / "drill-report.html").read_text()
    rows = dict(re.findall(r'<tr class="ar-row-[^"]*" data-type="(\w+)" data-status="(\w+)"', html))
    assert rows["upstream"] == "passed" and rows["nginx"] == "failed"
    upstream_rto = run.drill("upstream")["rto_actual_s"]
    assert f"{upstream_rto:.2f} s" in html


def test_the_failed_drill_carries_its_reason_and_the_runbooks_attachments(mixed_run):
    run, _ = mixed_run
    d = run.drill("invalid_config")
    assert d["status"] == "failed" and d["problems"][0].startswith("rollback exited 1:")
    html = (run.reports / "drill-report.html").read_text()
    assert "rollback exited 1" in html
    for attachment in ("rollback stderr", "api_v1 container log (tail)", "nginx error log (tail)"):
        assert attachment in html


def test_suggestions_name_the_failing_drill_and_participants_come_from_the_config(mixed_run):
    run, _ = mixed_run
    html = (run.reports / "drill-report.html").read_text()
    script = re.search(r'data-kind="script">(.*?)</div>', html, re.S).group(1)
    assert "test_nginx_rollback[invalid_config]" in script
    assert "Li Lei" in html and "Han Meimei" in html


def test_the_json_matches_the_contract_and_the_log_has_the_lines(mixed_run):
    run, _ = mixed_run
    assert set(run.results) == {"started_at", "finished_at", "target", "drills"}
    assert set(run.results["target"]) == {"name", "environment", "base_url"}
    for d in run.results["drills"]:
        assert set(d) == CONTRACT_KEYS
        assert set(d["fault"]) == {"kind", "observed"} and set(d["probe"]) == {"requests", "failures",
                                                                               "longest_outage_s"}
    # junit.xml carries each drill's budget, actual RTO and final status as properties, the
    # values of its JSON row ("null": never recovered, like the failed nginx drill here).
    cases = {f'{c.get("classname").replace(".", "/")}.py::{c.get("name")}':
             {p.get("name"): p.get("value") for p in c.iterfind("properties/property")}
             for c in ElementTree.parse(run.reports / "junit.xml").iter("testcase")}
    assert set(cases) == {d["id"] for d in run.results["drills"]}
    for d in run.results["drills"]:
        assert cases[d["id"]] == {name: "null" if d[name] is None else str(d[name])
                                  for name in ("rto_target_s", "rto_actual_s", "status")}, d["id"]
    assert cases[run.drill("upstream")["id"]]["status"] == "passed"
    assert float(cases[run.drill("upstream")["id"]]["rto_actual_s"]) > 0
    assert cases[run.drill("invalid_config")["id"]] == {"rto_target_s": "2.0", "rto_actual_s": "null",
                                                        "status": "failed"}
    log = (run.reports / "rollback-drill.log").read_text()
    assert re.search(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d UTC \d{4}: 当前版本 ", log, re.M)
    assert "upstream drill passed" in log and "nginx drill failed" in log


def test_no_secret_reaches_any_file_under_reports(mixed_run):
    run, secrets = mixed_run
    assert {"drill-report.html", "drill-results.json", "junit.xml", "rollback-drill.log",
            "history.jsonl"} <= {p.name for p in run.reports.iterdir()}
    for path in run.reports.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for name, secret in secrets.items():
                assert secret.encode() not in data, f"{name} found in {path}"


def test_the_sandbox_is_back_at_baseline(mixed_run):
    ok, status = sandbox_at_baseline()
    assert ok, status
