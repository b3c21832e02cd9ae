"""A run cancelled the way CI cancels a job — SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after
that — records the drill under way as `error` / `interrupted`, and either restores staging before
it ends or leaves its journal for the next run."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tomllib

import pytest

from tests.drills.suite_runner import (
    FAST,
    PROJECT,
    drills_command,
    executable,
    fresh_reports_dir,
    hanging,
    kill_recorded,
    run_suite,
    sandbox_at_baseline,
    suite_state_dir,
    toml_overlay,
    wait_for_log,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def target_name(main_sandbox) -> str:
    return tomllib.loads(main_sandbox.read_text())["target"]["name"]


def start_run(tmp_path, rollback_body: str):
    rollback = executable(tmp_path / "rollback", rollback_body)
    overlay = toml_overlay(tmp_path / "overlay.toml", {**FAST, "commands": {"rollback": rollback},
                                                       "rto": {"upstream": 30}})
    reports = fresh_reports_dir()
    proc = subprocess.Popen(drills_command("--drill-config", str(overlay), "-k", "upstream", reports=reports),
                            cwd=PROJECT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    return proc, reports


def wait_for_line(proc, log, text: str, timeout_s: float = 90) -> None:
    __tracebackhide__ = True
    wait_for_log(proc, log, text, f"the run to log {text!r}", timeout_s)


def cancel_like_ci(proc) -> list[str]:
    """SIGINT; SIGTERM 7.5 s later; SIGKILL 2.5 s after that — each only if the run still lives.
    Returns the signals that were sent."""
    sent = []
    for sig, then_wait in ((signal.SIGINT, 7.5), (signal.SIGTERM, 2.5), (signal.SIGKILL, 0)):
        if proc.poll() is not None:
            break
        os.killpg(proc.pid, sig)
        sent.append(sig.name)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=then_wait or 30)
    return sent


@pytest.mark.parametrize("moment", ["fault in place", "mid-rollback"])
def test_a_run_cancelled_like_ci_is_recorded_interrupted_and_staging_comes_back(tmp_path, target_name, moment):
    pidfile = tmp_path / "rollback.pid"
    proc, reports = start_run(tmp_path, hanging(pidfile))
    log = reports / "rollback-drill.log"
    wait_for_line(proc, log, "fault upstream_switch injected" if moment == "fault in place"
                  else "rollback --type upstream started")
    sent = cancel_like_ci(proc)
    kill_recorded(pidfile)  # the hung rollback, if the run's own teardown did not end it

    results = json.loads((reports / "drill-results.json").read_text())
    [d] = results["drills"]
    assert d["status"] == "error" and "interrupted" in d["problems"], d
    journal = suite_state_dir() / target_name / "journal.json"
    at_baseline, status = sandbox_at_baseline()
    if "SIGKILL" not in sent:  # it ended by itself: its restore ran to the end and was proved
        assert d["restored"] is True and at_baseline and not journal.exists(), (d, status)
        assert "staging restored" in log.read_text()
    else:  # killed before its restore finished: the journal is left for the next run
        assert journal.exists(), (d, status)
    again = run_suite("-k", "upstream")
    assert again.exit_code == 0, again.output[-3000:]
    assert sandbox_at_baseline()[0]


def test_sigterm_alone_is_handled_like_ctrl_c(tmp_path, target_name):
    pidfile = tmp_path / "rollback.pid"
    proc, reports = start_run(tmp_path, hanging(pidfile))
    wait_for_line(proc, reports / "rollback-drill.log", "rollback --type upstream started")
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=60) != 0
    kill_recorded(pidfile)  # the hung rollback, if the run's own teardown did not end it
    [d] = json.loads((reports / "drill-results.json").read_text())["drills"]
    assert d["status"] == "error" and "interrupted" in d["problems"] and d["restored"] is True, d
    assert not (suite_state_dir() / target_name / "journal.json").exists()
    assert sandbox_at_baseline()[0]
