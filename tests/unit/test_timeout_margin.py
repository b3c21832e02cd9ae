"""pytest-timeout's backstop over the RTO budget is derived from the named bounds of what runs
after the budget, so a late, slow target ends with its problems recorded, not a bare Timeout."""
from types import SimpleNamespace

from fixtures.drill import ALERT_TIMEOUT_S, HTTP_CHECK_TIMEOUT_S, LATE_LOOK_MAX_S, SOAK_WAIT_S, post_budget_bounds
from helpers import commands, metrics, perf, rpo

CFG = SimpleNamespace(probe=SimpleNamespace(soak_s=2.0, interval_s=0.05))


def test_the_margin_is_at_least_the_sum_of_what_runs_after_the_budget():
    after_budget = (LATE_LOOK_MAX_S                       # late look
                    + CFG.probe.soak_s + SOAK_WAIT_S      # soak and its wait
                    + commands.VERIFY_TIMEOUT_S           # verify
                    + perf.BOUND_S                        # performance smoke
                    + 2 * metrics.FETCH_TIMEOUT_S         # /metrics before and after
                    + commands.KILL_BOUND_S               # the rollback killed at the budget
                    + rpo.STOP_TIMEOUT_S)                 # the RPO writer's stop
    margin = sum(post_budget_bounds(CFG, "image").values())
    assert margin >= after_budget
    assert margin > 90  # the fixed margin it replaces was below this sum


def test_the_emergency_drill_adds_its_alert_and_inbox_reads():
    full = sum(post_budget_bounds(CFG, "full").values())
    emergency = sum(post_budget_bounds(CFG, "emergency").values())
    assert emergency >= full + ALERT_TIMEOUT_S + 3 * HTTP_CHECK_TIMEOUT_S


def test_a_longer_soak_lengthens_the_margin_by_as_much():
    longer = SimpleNamespace(probe=SimpleNamespace(soak_s=30.0, interval_s=0.05))
    assert (sum(post_budget_bounds(longer, "nginx").values())
            - sum(post_budget_bounds(CFG, "nginx").values())) == 28.0


PROBE_PLUGIN = '''
import pytest, pytest_timeout

def pytest_collection_finish(session):
    for item in session.items:
        at_protocol = pytest_timeout._get_item_settings(item)
        # what the `outcome` fixture does in setup
        item.add_marker(pytest.mark.timeout(642, method="signal", func_only=True), append=False)
        at_call = pytest_timeout._get_item_settings(item)
        print("PROBE", item.nodeid, at_protocol.timeout, at_protocol.func_only, at_call.timeout, at_call.func_only)
'''


def test_pyprojects_timeout_leaves_a_drills_setup_and_restore_alone(tmp_path):
    """pyproject's `timeout` is for the project's own tests; a drill's protocol gets no timer from
    it (a cold `sandbox up` in setup, a restore in teardown), only its own func_only marker."""
    import subprocess
    import sys
    from pathlib import Path

    project = Path(__file__).resolve().parents[2]
    (tmp_path / "timeout_probe.py").write_text(PROBE_PLUGIN)
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(tmp_path)
    r = subprocess.run([sys.executable, "-m", "pytest", "drills/", "--co", "-q", "-p", "timeout_probe",
                        "-p", "no:cacheprovider", "--reports-dir", str(tmp_path / "reports")],
                       cwd=project, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    probes = [line.split() for line in r.stdout.splitlines() if line.startswith("PROBE")]
    assert len(probes) >= 7
    for _, nodeid, protocol_timeout, _, call_timeout, call_func_only in probes:
        assert float(protocol_timeout) == 0, nodeid  # no whole-protocol timer
        assert (float(call_timeout), call_func_only) == (642, "True"), nodeid
