"""What pytest-timeout gives the drills when the suite runs: pyproject's `timeout` (the project's
own tests' hang detector) never times a drill's whole protocol, only its own func_only marker.
The margin's arithmetic itself: tests/unit/test_timeout_margin.py."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

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
    project = Path(__file__).resolve().parents[2]
    (tmp_path / "timeout_probe.py").write_text(PROBE_PLUGIN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
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
