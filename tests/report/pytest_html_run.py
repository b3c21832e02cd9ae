"""Run pytest-html with the report plugin over the synthetic drills, in a scratch project.

The scratch project's conftest plays the part of the drill fixtures, exactly as far as the
plugin's contract goes: it puts the RunContext in `config.stash[RUN_KEY]`, each drill's outcome
in `item.stash[OUTCOME_KEY]`, and appends (outcome, final status) to `RunContext.outcomes` when a
drill's teardown is reported. One drill fails in its body, one errors in teardown (its restore
failed), one is skipped.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CONFTEST = '''
from datetime import datetime, timezone

import pytest
from fixtures.stash_keys import OUTCOME_KEY, RUN_KEY
from tests.report import synthetic

pytest_plugins = ["fixtures.report_plugin"]
_PHASES = pytest.StashKey[dict]()
BUILDERS = {"upstream": synthetic.upstream, "image": synthetic.image, "nginx": synthetic.nginx,
            "database": synthetic.database, "full": synthetic.full, "emergency": synthetic.emergency}


def pytest_addoption(parser):
    parser.addoption("--participants", default=None)
    parser.addoption("--report-language", default=None)
    parser.addoption("--reports-dir", default=None)


def pytest_configure(config):
    run = synthetic.run_context("en")
    run.started_at = datetime.now(timezone.utc)
    run.outcomes = []
    config.stash[RUN_KEY] = run


@pytest.fixture
def drill(request):
    outcome = BUILDERS[request.param]()
    request.node.stash[OUTCOME_KEY] = outcome
    yield outcome
    if not outcome.restored:
        raise AssertionError("restore failed: " + outcome.restore_detail)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    phases = item.stash.setdefault(_PHASES, {})
    phases[report.when] = report.outcome
    outcome = item.stash.get(OUTCOME_KEY, None)
    if report.when == "teardown" and outcome is not None:
        if "failed" in (phases.get("setup"), phases.get("teardown")) or not outcome.restored:
            status = "error"
        elif phases.get("call") == "failed":
            status = "failed"
        elif "skipped" in phases.values():
            status = "skipped"
        else:
            status = "passed"
        item.config.stash[RUN_KEY].outcomes.append((outcome, status))
    return report
'''

TESTS = '''
import pytest


@pytest.mark.parametrize("drill", ["upstream", "image", "nginx", "database", "full", "emergency"],
                         indirect=True)
def test_drill(drill):
    if drill.type == "emergency":
        pytest.skip("production target only")
    assert drill.command is None or drill.command.ok, drill.problems[0]
'''


def run(tmp: Path, *args: str, history: list[dict] | None = None) -> subprocess.CompletedProcess:
    """Write the scratch project under `tmp` and run it; the report goes to tmp/reports/."""
    (tmp / "conftest.py").write_text(CONFTEST)
    (tmp / "test_drills.py").write_text(TESTS)
    (tmp / "pytest.ini").write_text("[pytest]\n")
    reports = tmp / "reports"
    reports.mkdir(exist_ok=True)
    if history:
        (reports / "history.jsonl").write_text("".join(json.dumps(e) + "\n" for e in history))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         "--reports-dir=reports", "--html=reports/drill-report.html", "--self-contained-html",
         "--junitxml=reports/junit.xml", *args],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=120)
