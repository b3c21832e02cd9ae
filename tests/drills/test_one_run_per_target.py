"""One drill run per target (DESIGN.md "One run per target"): a second run is refused naming the
holder and touches nothing; `sandbox up` changes nothing and `down` refuses while a run holds the
sandbox; the lock of a SIGKILLed run is free at once."""
from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
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
    reports_snapshot,
    run_suite,
    sandbox_at_baseline,
    toml_overlay,
    wait_for_log,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sandbox(main_sandbox) -> dict:
    return tomllib.loads(main_sandbox.read_text())


def start_holder(tmp_path, rollback_body: str, rto: int) -> tuple[subprocess.Popen, object]:
    """A drill run (upstream) that holds the target while its rollback runs `rollback_body`;
    returns once that rollback has started."""
    rollback = executable(tmp_path / "rollback", rollback_body)
    overlay = toml_overlay(tmp_path / "holder.toml", {**FAST, "commands": {"rollback": rollback},
                                                      "rto": {"upstream": rto}})
    reports = fresh_reports_dir()
    proc = subprocess.Popen(drills_command("--drill-config", str(overlay), "-k", "upstream", reports=reports),
                            cwd=PROJECT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    log = reports / "rollback-drill.log"
    wait_for_log(proc, log, "rollback --type upstream started", "the holder to reach its rollback", 90, 0.1)
    return proc, reports


def sandbox_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=PROJECT, capture_output=True, text=True,
                          timeout=120)


def test_a_second_run_is_refused_naming_the_holder_and_the_first_passes_untouched(tmp_path, sandbox, main_sandbox):
    # The holder's rollback is the real one, held back until everything below is done (the file
    # `release` appears in `finally`): a fixed delay was too short on a loaded machine.
    release = tmp_path / "release"
    holder, _ = start_holder(tmp_path, f'until [ -e {release} ]; do sleep 0.1; done\n'
                                       f'exec {sandbox["commands"]["rollback"]} "$@"\n', rto=180)
    try:
        reports = tmp_path / "second"
        reports.mkdir()
        (reports / "drill-results.json").write_text('{"kept": true}\n')  # an earlier run's output
        before = reports_snapshot(reports)
        second = subprocess.run(drills_command("-k", "upstream", reports=reports), cwd=PROJECT, capture_output=True,
                                text=True, timeout=120)
        output = second.stdout + second.stderr
        assert second.returncode == 4, output[-2000:]
        refusal = [line for line in output.splitlines() if line.startswith("ERROR:")]
        assert len(refusal) == 1, output[-2000:]
        assert re.match(rf"ERROR: drill target {sandbox['target']['name']} is locked by another run: "
                        rf"aura-drill \d+@\S+ \d\d:\d\d:\d\dZ upstream \(database session \d+", refusal[0]), refusal[0]
        assert reports_snapshot(reports) == before  # byte-identical: nothing opened, nothing deleted

        config_before = hashlib.sha256(main_sandbox.read_bytes()).hexdigest()
        up = sandbox_cli("up")
        assert up.returncode == 0 and "a drill run holds this sandbox" in up.stderr and "changing nothing" in up.stderr
        assert up.stdout.strip().splitlines()[-1] == str(main_sandbox)
        assert hashlib.sha256(main_sandbox.read_bytes()).hexdigest() == config_before
        down = sandbox_cli("down")
        assert down.returncode != 0 and "refused: a drill run holds this sandbox (aura-drill " in down.stderr
        api_v2 = sandbox["upstreams"]["api_v2"]
        ok, status = sandbox_at_baseline()
        assert not ok and f"server {api_v2};" in status  # the holder's fault is still in place: untouched
    finally:
        release.touch()
        out, _ = holder.communicate(timeout=120)
    assert holder.returncode == 0, out[-3000:]
    assert sandbox_at_baseline()[0]


def test_the_lock_of_a_sigkilled_run_is_free_for_the_next_run_at_once(tmp_path):
    pidfile = tmp_path / "rollback.pid"
    holder, _ = start_holder(tmp_path, hanging(pidfile), rto=30)
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait()
    kill_recorded(pidfile)  # the hung rollback (its own session)
    again = run_suite("-k", "upstream", "--lock-wait", "0")
    assert again.exit_code == 0, again.output[-3000:]
    assert "restored from the journal of an interrupted run" in again.output
    assert sandbox_at_baseline()[0]
