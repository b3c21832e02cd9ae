"""What pytest-timeout gives the drills when the suite runs: pyproject's `timeout` (the project's
own tests' hang detector) never times a drill's whole protocol, only its own func_only marker.
The margin's arithmetic itself: tests/unit/test_timeout_margin.py."""
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers.drill_bounds import PostBudgetBounds

pytestmark = pytest.mark.e2e

BUILT_IN_SMOKE = dict(commands=SimpleNamespace(perf_smoke=None), perf=SimpleNamespace(smoke_timeout_s=120))
CFG = SimpleNamespace(probe=SimpleNamespace(soak_s=2.0, interval_s=0.05), **BUILT_IN_SMOKE)

PROBE_PLUGIN = '''
import pytest, pytest_timeout
from types import SimpleNamespace

CFG = SimpleNamespace(probe=SimpleNamespace(soak_s=2.0, interval_s=0.05), rto=SimpleNamespace(budget=lambda t: 60.0),
                      commands=SimpleNamespace(perf_smoke=None), perf=SimpleNamespace(smoke_timeout_s=120))

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
    project = Path(__file__).resolve().parents[2]
    (tmp_path / "timeout_probe.py").write_text(PROBE_PLUGIN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
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
