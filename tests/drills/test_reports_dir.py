"""--reports-dir: every output of a drill run follows it, and a folder that cannot be used is a
one-line usage error before anything starts."""
from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET

import pytest

from tests.drills.suite_runner import (
    PROJECT,
    PROJECT_REPORTS,
    drills_command,
    reports_snapshot,
    run_suite,
    sandbox_at_baseline,
    toml_overlay,
)

pytestmark = pytest.mark.e2e

OUTPUTS = {"drill-results.json", "drill-report.html", "junit.xml", "rollback-drill.log", "history.jsonl"}


def test_every_output_of_a_real_run_lands_in_the_reports_dir(tmp_path, main_sandbox):
    project_before = reports_snapshot(PROJECT_REPORTS)
    reports = tmp_path / "not" / "yet" / "there"  # created by the run
    overlay = toml_overlay(tmp_path / "overlay.toml", {"probe": {"soak_s": 0.5}})
    run = run_suite("--drill-config", str(overlay), "-k", "upstream", reports=reports)
    assert run.exit_code == 0, run.output[-3000:]
    assert {p.name for p in reports.iterdir()} == OUTPUTS
    assert [d["status"] for d in run.results["drills"]] == ["passed"]
    assert "upstream drill passed" in (reports / "rollback-drill.log").read_text()
    history = (reports / "history.jsonl").read_text().splitlines()
    assert len(history) == 1 and len(json.loads(history[0])["drills"]) == 1
    cases = [c.get("name") for c in ET.parse(reports / "junit.xml").getroot().iter("testcase")]
    assert cases == ["test_upstream_switch_rollback"]
    assert 'id="aura-rto-table"' in (reports / "drill-report.html").read_text()
    assert reports_snapshot(PROJECT_REPORTS) == project_before
    assert sandbox_at_baseline()[0]


def collect_only(*args: str, reports) -> subprocess.CompletedProcess:
    """A run that collects the drills and touches no target: pytest-html and JUnit still write."""
    return subprocess.run(drills_command("--collect-only", "-q", *args, reports=reports), cwd=PROJECT,
                          capture_output=True, text=True, timeout=120)


def test_explicit_html_and_junitxml_win_over_the_reports_dir(tmp_path):
    reports, elsewhere = tmp_path / "reports", tmp_path / "elsewhere"
    r = collect_only(f"--html={elsewhere / 'page.html'}", reports=reports)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert (elsewhere / "page.html").is_file() and not (reports / "drill-report.html").exists()
    assert (reports / "junit.xml").is_file()  # the default the --html did not replace
    r = collect_only(f"--junitxml={elsewhere / 'j.xml'}", reports=reports)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert (elsewhere / "j.xml").is_file() and (reports / "drill-report.html").is_file()


def usage_error_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 4, r.stdout[-2000:] + r.stderr[-2000:]
    lines = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_a_reports_dir_that_is_a_file_is_a_usage_error_naming_it(tmp_path):
    a_file = tmp_path / "reports.txt"
    a_file.write_text("not a folder\n")
    line = usage_error_line(collect_only(reports=a_file))
    assert line == f"ERROR: --reports-dir: {a_file} is not a folder"
    assert a_file.read_text() == "not a folder\n"


def test_a_reports_dir_that_cannot_be_created_is_a_usage_error_naming_it(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("")
    line = usage_error_line(collect_only(reports=a_file / "reports"))
    assert line.startswith(f"ERROR: --reports-dir: cannot create {a_file / 'reports'}: ")
