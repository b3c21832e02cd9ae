"""The report plugin through pytest-html: a real pytest run of synthetic drills writes the report,
the history and the JUnit XML (tests/report/pytest_html_run.py), in either language; and the
environment table's versions, asked of real programs. The pages themselves, rendered from the same
synthetic outcomes without a run: tests/unit/test_report_rendering.py."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers.report import environment
from tests.report import pytest_html_run, synthetic
from tests.report.synthetic import SECRET

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def plugin_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("plugin")
    done = pytest_html_run.run(tmp, "--participants", "Mei,Tom", history=synthetic.previous_history())
    assert done.returncode == 1, done.stdout + done.stderr  # one drill failed, one errored
    assert "1 failed, 4 passed, 1 skipped, 1 error" in done.stdout
    return tmp / "reports", done.stdout + done.stderr


def test_plugin_writes_the_report(plugin_run: tuple[Path, str]):
    reports, _ = plugin_run
    html = (reports / "drill-report.html").read_text()
    assert "<title id=\"head-title\">Aura Flow rollback drill — aura-sandbox</title>" in html
    summary = html[html.index('class="additional-summary prefix"'):html.index('class="run-count"')]
    assert 'id="aura-rto-table"' in summary and 'id="aura-template"' in summary
    assert "Mei, Tom" in summary
    assert html.count("aura-drill ar-drill-") >= 6  # one section per drill (in the JSON blob)
    assert "col-drilltype" in html and "Drill target" in html


def test_plugin_appends_history_and_keeps_secrets_out(plugin_run: tuple[Path, str]):
    reports, output = plugin_run
    lines = (reports / "history.jsonl").read_text().splitlines()
    assert len(lines) == 4 and len(json.loads(lines[-1])["drills"]) == 6
    for f in reports.iterdir():
        assert SECRET not in f.read_text(errors="replace"), f.name
    assert SECRET not in output
    junit = (reports / "junit.xml").read_text()
    assert "rollback command exited 1" in junit


def test_plugin_language_option(tmp_path: Path):
    done = pytest_html_run.run(tmp_path, "--report-language", "zh", "-k", "upstream")
    html = (tmp_path / "reports" / "drill-report.html").read_text()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Aura Flow 回滚演练报告" in html and "演练时间目标" in html
    # the columns and environment rows the suite adds to pytest-html's page are Chinese too
    assert 'data-column-type="drilltype">类型</th>' in html and "Upstream 切换" in html
    for text in ("演练目标", "基础 URL", "参与人员", "报告语言", "演练套件版本"):
        assert text in html or json.dumps(text)[1:-1] in html, text  # environment rows: in a JSON blob
    for english in ('data-column-type="drilltype">Type<', "Drill target", "Base URL", "Participants",
                    "Report language", "Suite revision", "Container engine", "Image repository"):
        assert english not in html, english
    assert re.search(r'col-rto[^<]*?\d+\.\d\d (秒|\\u79d2)', html)  # the RTO cell, maybe in the JSON blob


def test_environment_collects_versions_without_raising(tmp_path: Path):
    nginx = tmp_path / "nginx"
    nginx.write_text("#!/bin/sh\necho 'nginx version: nginx/1.22.1' >&2\n")
    nginx.chmod(0o755)
    from helpers.engine_api import Engine

    with Engine(f"unix://{tmp_path}/no.sock") as engine:
        info = environment.collect(nginx=str(nginx), engine=engine, services={"api_v1": "aura-api-v1"},
                                   repo_dir=Path(__file__).resolve().parents[2])
    assert info["nginx"] == "nginx/1.22.1"
    assert info["Python"].startswith("CPython 3.") and info["pytest"][0].isdigit()
    assert info["Container engine"].startswith("unavailable:")
    assert info["Image api_v1"].startswith("unavailable:")
    assert re.match(r"[0-9a-f]{12}", info["Suite revision"])
