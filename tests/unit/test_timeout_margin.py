"""pytest-timeout's backstop over the RTO budget is derived from the named bounds of what runs
after the budget, so a late, slow target ends with its problems recorded, not a bare Timeout."""
from types import SimpleNamespace

from helpers import commands, metrics, perf, rpo
from helpers.drill_bounds import ALERT_TIMEOUT_S, HTTP_CHECK_TIMEOUT_S, PostBudgetBounds
from helpers.measure import LATE_LOOK_MAX_S, SOAK_WAIT_S

CFG = SimpleNamespace(probe=SimpleNamespace(soak_s=2.0, interval_s=0.05))


def test_the_margin_is_at_least_the_sum_of_what_runs_after_the_budget():
    after_budget = (LATE_LOOK_MAX_S                       # late look
                    + CFG.probe.soak_s + SOAK_WAIT_S      # soak and its wait
                    + commands.VERIFY_TIMEOUT_S           # verify
                    + perf.BOUND_S                        # performance smoke
                    + 2 * metrics.FETCH_TIMEOUT_S         # /metrics before and after
                    + commands.KILL_BOUND_S               # the rollback killed at the budget
                    + rpo.STOP_TIMEOUT_S)                 # the RPO writer's stop
    margin = PostBudgetBounds.of(CFG, "image").total()
    assert margin >= after_budget
    assert margin > 90  # the fixed margin it replaces was below this sum


def test_the_emergency_drill_adds_its_alert_and_inbox_reads():
    full = PostBudgetBounds.of(CFG, "full").total()
    emergency = PostBudgetBounds.of(CFG, "emergency").total()
    assert emergency >= full + ALERT_TIMEOUT_S + 3 * HTTP_CHECK_TIMEOUT_S


def test_a_longer_soak_lengthens_the_margin_by_as_much():
    longer = SimpleNamespace(probe=SimpleNamespace(soak_s=30.0, interval_s=0.05))
    assert PostBudgetBounds.of(longer, "nginx").total() - PostBudgetBounds.of(CFG, "nginx").total() == 28.0


def test_the_checks_during_the_soak_are_waited_for_by_their_own_bounds():
    plain, emergency = PostBudgetBounds.of(CFG, "image"), PostBudgetBounds.of(CFG, "emergency")
    assert plain.after_checks_s == (commands.VERIFY_TIMEOUT_S + perf.BOUND_S + 2 * metrics.FETCH_TIMEOUT_S
                                    + plain.host_checks_s)
    assert emergency.after_checks_s == plain.after_checks_s + ALERT_TIMEOUT_S + 3 * HTTP_CHECK_TIMEOUT_S
    assert plain.timeout_s(60) == 60 + plain.total()


PROBE_PLUGIN = '''
import pytest, pytest_timeout
from types import SimpleNamespace

CFG = SimpleNamespace(probe=SimpleNamespace(soak_s=2.0, interval_s=0.05), rto=SimpleNamespace(budget=lambda t: 60.0))

def pytest_collection_finish(session):
    import fixtures.drill
    # pluggy calls a hook's implementations from the last to the first
    order = [impl.plugin for impl in session.config.pluginmanager.hook.pytest_runtest_protocol.get_hookimpls()]
    print("ORDER", order.index(fixtures.drill) > order.index(pytest_timeout))
    for item in session.items:
        # what the drill plugin's protocol wrapper does before pytest-timeout's reads the settings
        item.add_marker(fixtures.drill.drill_timeout(CFG, item.get_closest_marker("drill_type").args[0]),
                        append=False)
        at_protocol = pytest_timeout._get_item_settings(item)
        print("PROBE", item.nodeid, item.get_closest_marker("drill_type").args[0], at_protocol.timeout,
              at_protocol.func_only)
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
    assert "ORDER True" in r.stdout.splitlines()  # set before pytest-timeout reads it
    probes = [line.split() for line in r.stdout.splitlines() if line.startswith("PROBE")]
    assert len(probes) >= 7
    for _, nodeid, drill_type, protocol_timeout, func_only in probes:
        # func_only: no whole-protocol timer, only the test function's, of the budget plus its bounds
        assert func_only == "True", nodeid
        assert float(protocol_timeout) == PostBudgetBounds.of(CFG, drill_type).timeout_s(60.0), nodeid
