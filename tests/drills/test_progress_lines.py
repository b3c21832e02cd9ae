"""A drill run says what it is doing, one terminal line per step, while it does it (a full rollback
on a real staging may take fifteen minutes: silence between the header and the result is no use)."""
from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.drills.suite_runner import FAST, PROJECT, drills_command, sandbox_at_baseline, toml_overlay

pytestmark = pytest.mark.e2e

STEP = re.compile(r"^\[upstream \d+\.\ds\] (.*)$")


def test_each_step_of_a_drill_is_a_terminal_line_as_it_happens(tmp_path, main_sandbox):
    overlay = toml_overlay(tmp_path / "overlay.toml", FAST)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.Popen(drills_command("--drill-config", str(overlay), "-k", "upstream", "-q",
                                           reports=tmp_path / "reports"),
                            cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines, still_running_at_start = [], None
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if "] drill started: " in line:
            # read while the drill had everything still ahead of it: the line came as it happened
            still_running_at_start = proc.poll() is None
    assert proc.wait(timeout=300) == 0, "\n".join(lines[-40:])
    assert still_running_at_start is True

    run_lines = [line for line in lines if line.startswith("[drills] ")]
    assert run_lines[0].startswith("[drills] target aura-sandbox") and "run lock held" in run_lines[0]
    assert run_lines[1].startswith("[drills] preflight passed: at baseline")
    steps = [m.group(1) for line in lines if (m := STEP.match(line))]
    wanted = ["drill started: drills/test_upstream_switch.py::test_upstream_switch_rollback",
              "snapshot taken: api_v1 ", "fault upstream_switch injected, observed visible: ",
              "rollback --type upstream started (budget 60s)", "soak: 0.5s from ", "soak held",
              "checks: all passed", "restoring staging to the snapshot", "staging restored ("]
    found = [next(i for i, step in enumerate(steps) if step.startswith(w)) for w in wanted]
    assert found == sorted(found), steps
    # the recovery and the command's exit both come between the start and the soak, in either order
    for said in ("recovered: RTO ", "rollback command exited 0 after "):
        at = next(i for i, step in enumerate(steps) if step.startswith(said))
        assert found[3] < at < found[4], steps
    # the drill log keeps its own lines, word for word
    log = (tmp_path / "reports" / "rollback-drill.log").read_text()
    assert re.search(r": upstream drill: rollback --type upstream started\n", log)
    assert sandbox_at_baseline()[0]
