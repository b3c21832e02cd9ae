"""The checks after a rollback (verify, performance smoke, /metrics, host checks) run while the
soak runs: they start when the soak starts, never while the rollback is still in progress, and
the soak watches them (a check that disturbs serving is a relapse).

Real executables are swapped in through a partial --drill-config; the sandbox is left at baseline.
"""
from __future__ import annotations

import tomllib

import pytest

from tests.drills.suite_runner import FAST, executable, run_suite, sandbox_at_baseline, toml_overlay

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sandbox(main_sandbox) -> dict:
    return tomllib.loads(main_sandbox.read_text())


def test_the_checks_start_only_once_the_rollback_has_exited(tmp_path, sandbox):
    # The rollback recovers the target at once, then lingers before it exits; verify refuses to
    # pass unless the rollback has exited by the time it runs.
    exited = tmp_path / "rollback-exited"
    rollback = executable(tmp_path / "rollback", f'{sandbox["commands"]["rollback"]} "$@" || exit $?\n'
                                                 f'sleep 1\ntouch {exited}\n')
    verify = executable(tmp_path / "verify", f'[ -e {exited} ] || {{ echo "verify ran during the rollback" >&2; '
                                             f'exit 9; }}\nexec {sandbox["commands"]["verify"]} "$@"\n')
    overlay = toml_overlay(tmp_path / "overlay.toml", {**FAST, "commands": {"rollback": rollback, "verify": verify}})
    run = run_suite("--drill-config", str(overlay), "-k", "upstream")
    d = run.drill("upstream")
    assert d["status"] == "passed", d["problems"]
    assert d["rto_actual_s"] < d["command_s"]  # it recovered while the command still ran
    assert sandbox_at_baseline()[0]


def test_a_check_that_disturbs_serving_during_the_soak_is_a_relapse(tmp_path, sandbox):
    # verify moves traffic to api_v2 and back before checking: run inside the soak, the soak sees
    # answers from the wrong pool and the recovery does not hold. (Run after the soak, it would
    # go unseen.)
    switch = sandbox["commands"]["switch_upstream"]
    verify = executable(tmp_path / "verify", f'{switch} --target api_v2 >/dev/null\n'
                                             f'{switch} --target api_v1 >/dev/null\n'
                                             f'exec {sandbox["commands"]["verify"]} "$@"\n')
    overlay = toml_overlay(tmp_path / "overlay.toml",
                           {"probe": {**FAST["probe"], "soak_s": 3}, "commands": {"verify": verify}})
    run = run_suite("--drill-config", str(overlay), "-k", "upstream")
    d = run.drill("upstream")
    assert d["status"] == "failed", d
    relapse = [p for p in d["problems"] if p.startswith("recovery did not hold")]
    assert relapse and "pool api_v2" in relapse[0], d["problems"]
    assert d["restored"] is True
    assert sandbox_at_baseline()[0]
