"""A verdict that holds: the real drills pass, and rollbacks that only look good fail.

Each case runs the real suite as a subprocess against the real sandbox, with real executables
swapped in through a partial --drill-config (tests/drills/suite_runner.py), and leaves the sandbox
at its baseline.
"""
from __future__ import annotations

import os
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
    hanging,
    kill_recorded,
    run_suite,
    sandbox_at_baseline,
    toml_overlay,
    wait_for_log,
)

pytestmark = pytest.mark.e2e

# -k expressions that select exactly one drill of each rollback type
ONE_DRILL = {"upstream": "upstream", "nginx": "invalid_config", "image": "image",
             "database": "database", "full": "test_full", "emergency": "emergency"}


@pytest.fixture(scope="module")
def sandbox(main_sandbox) -> dict:
    """The sandbox's own config: its command strings, its database URL, its container names."""
    return tomllib.loads(main_sandbox.read_text())


def overlay(tmp_path, **sections) -> str:
    return str(toml_overlay(tmp_path / "overlay.toml", {**FAST, **sections}))


def assert_baseline():
    ok, status = sandbox_at_baseline()
    assert ok, f"sandbox not at baseline after the run:\n{status}"


def test_the_real_image_database_full_and_emergency_drills_pass(tmp_path):
    run = run_suite("--drill-config", overlay(tmp_path), "-k", "image or database or full or emergency")
    assert run.exit_code == 0, run.output[-3000:]
    assert sorted(d["type"] for d in run.results["drills"]) == ["database", "emergency", "full", "image"]
    for d in run.results["drills"]:
        assert d["status"] == "passed" and d["restored"] is True, d
        assert d["fault"]["observed"] == "visible", d  # the sandbox's bad release answers 503
        assert d["rto_actual_s"] is not None and d["rto_actual_s"] <= d["rto_target_s"]
    assert_baseline()


@pytest.mark.parametrize("drill_type", list(ONE_DRILL))
def test_a_rollback_that_relapses_after_recovering_fails(tmp_path, sandbox, drill_type):
    # The real rollback recovers the target; a second later, well past the old soak window
    # (0.5 s from the recovery), traffic flips to api_v2 for a moment and back; then it exits 0.
    switch = sandbox["commands"]["switch_upstream"]
    body = (f'{sandbox["commands"]["rollback"]} "$@" || exit $?\n'
            f'sleep 1.2\n{switch} --target api_v2 >/dev/null\nsleep 0.5\n'
            f'{switch} --target api_v1 >/dev/null\nexit 0\n')
    rollback = executable(tmp_path / "rollback", body)
    run = run_suite("--drill-config", overlay(tmp_path, commands={"rollback": rollback}),
                    "-k", ONE_DRILL[drill_type])
    d = run.drill(ONE_DRILL[drill_type])
    assert d["status"] == "failed", d
    assert d["rto_actual_s"] is not None and d["command_exit"] == 0  # it did recover, and exited 0
    relapse = [p for p in d["problems"] if p.startswith("recovery did not hold")]
    assert relapse, d["problems"]
    assert "relapse" in relapse[0] and "pool api_v2" in relapse[0], relapse[0]
    assert d["restored"] is True
    assert_baseline()


def test_a_fault_that_heals_before_the_rollback_fails_as_no_longer_present(tmp_path, sandbox):
    # A watchdog: the switch to api_v2 is seen by the probe, then put back before the drill's
    # rollback starts. An RTO of about zero would be a lie.
    real = sandbox["commands"]["switch_upstream"]
    body = f'{real} "$@" || exit $?\nsleep 0.5\nexec {real} --target api_v1 >/dev/null\n'
    switch = executable(tmp_path / "switch_upstream", body)
    run = run_suite("--drill-config", overlay(tmp_path, commands={"switch_upstream": switch}), "-k", "upstream")
    d = run.drill("upstream")
    assert d["status"] == "failed" and d["fault"]["observed"] == "visible"
    assert d["problems"][0].startswith("fault no longer present at t0: upstream_switch: the front answers "
                                       "healthz 200"), d["problems"]
    assert d["command_exit"] is None and d["rto_actual_s"] is None  # the rollback never ran
    assert_baseline()


def test_a_bad_image_that_still_answers_healthz_is_a_latent_fault_and_the_drill_passes(tmp_path):
    # v1.1.0 is healthy on the sandbox's schema: the front stays green, only the engine shows it.
    run = run_suite("--drill-config", overlay(tmp_path, docker={"bad_tag": "v1.1.0"}), "-k", "image")
    d = run.drill("test_image_rollback")
    assert d["status"] == "passed", d["problems"]
    assert d["fault"]["observed"] == "latent"
    assert_baseline()


def test_a_bad_migration_the_release_still_accepts_is_latent_and_the_drill_goes_on(tmp_path, sandbox):
    # v1.0.0 (api_v1, serving) accepts 0001_base: /healthz stays green, only SQL shows the fault.
    # Going down to 0001_base drops the `customer` column, so the rollback brings the schema back
    # but not those values: the drill recovers and then fails on exactly that, and the restore
    # puts the rows back from its backup. One order with a customer makes sure there is one to lose.
    from tests import target_http

    order = {"item": "verdict-test", "quantity": 1, "customer": "Han Meimei"}
    with target_http.client(sandbox, timeout=5) as http:  # the front's CA and the API's token
        assert http.post(sandbox["target"]["base_url"] + "/api/orders", json=order).status_code in (200, 201)
    run = run_suite("--drill-config", overlay(tmp_path, database={"bad_revision": "0001_base"}), "-k", "database")
    d = run.drill("test_database_rollback")
    assert d["fault"]["observed"] == "latent", d
    assert d["command_exit"] == 0 and d["rto_actual_s"] is not None
    assert d["problems"] and all(p.startswith("RPO: snapshot rows damaged: 0 lost, ") for p in d["problems"]), d
    assert d["status"] == "failed" and d["restored"] is True
    assert_baseline()


def test_a_rollback_that_does_nothing_on_the_latent_nginx_fault_fails(tmp_path):
    rollback = executable(tmp_path / "rollback", 'echo "nginx: rolled back"\nexit 0\n')
    run = run_suite("--drill-config", overlay(tmp_path, commands={"rollback": rollback}, rto={"nginx": 2}),
                    "-k", "invalid_config")
    d = run.drill("invalid_config")
    assert d["fault"]["observed"] == "latent"
    assert d["status"] == "failed" and d["rto_actual_s"] is None and d["command_exit"] == 0
    assert d["problems"][0].startswith("not recovered within the 2s RTO budget ([rto] nginx): "), d["problems"]
    assert "nginx config restored and nginx -t passes never restored" in d["problems"][0]
    assert d["restored"] is True
    assert_baseline()


def test_lost_acknowledged_writes_fail_the_rpo_check(tmp_path, sandbox):
    # The real rollback, then the newest orders vanish: writes the drill's writer was told were
    # stored. The restore puts back only the snapshot's rows; the drill must fail on RPO.
    url = sandbox["database"]["url"]
    table = sandbox["database"]["table"]
    body = (f'{sandbox["commands"]["rollback"]} "$@" || exit $?\n'
            f'{sys.executable} - <<\'PY\'\nimport psycopg\n'
            f'with psycopg.connect({url!r}) as c:\n'
            f'    c.execute("DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id DESC LIMIT 5)")\n'
            'PY\n')
    rollback = executable(tmp_path / "rollback", body)
    run = run_suite("--drill-config", overlay(tmp_path, commands={"rollback": rollback}), "-k", "upstream")
    d = run.drill("upstream")
    assert d["status"] == "failed", d
    assert d["rpo_lost_writes"] and d["rpo_lost_writes"] >= 1, d
    assert any(p.startswith("RPO") for p in d["problems"]), d["problems"]
    assert d["restored"] is True
    assert_baseline()


def _engine(sandbox):
    import docker

    return docker.APIClient(base_url=sandbox["docker"]["url"], timeout=30)


def test_a_container_removed_by_a_killed_run_is_created_again_from_the_journal(tmp_path, sandbox, main_sandbox):
    # The rollback removes api_v1 (as a rollback killed between removing and recreating it would
    # leave it), then hangs; the run is SIGKILLed. The next run — given the sandbox's own config, so
    # no `sandbox up` repairs anything first — must create api_v1 again from its journal.
    name = sandbox["services"]["api_v1"]
    remove = (f'{sys.executable} -c "import docker; '
              f'docker.APIClient(base_url=\'{sandbox["docker"]["url"]}\').remove_container(\'{name}\', force=True)"')
    pidfile = tmp_path / "rollback.pid"
    hang = overlay(tmp_path, commands={"rollback": executable(tmp_path / "rollback",
                                                              hanging(pidfile, before=f"{remove}\n"))},
                   rto={"upstream": 30})
    reports = tmp_path / "killed-run"
    log = reports / "rollback-drill.log"
    proc = subprocess.Popen(drills_command("--drill-config", hang, "-k", "upstream", reports=reports),
                            cwd=PROJECT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = _engine(sandbox)
    wait_for_log(proc, log, "rollback --type upstream started", "the rollback to remove the container", 90, 0.2,
                 also=lambda: not api.containers(all=True, filters={"name": f"^{name}$"}))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kill_recorded(pidfile)  # the hung rollback (its own session)
    assert not api.containers(all=True, filters={"name": f"^{name}$"})  # really gone

    again = run_suite("--drill-config", str(main_sandbox), "-k", "upstream")
    assert again.exit_code == 0, again.output[-3000:]
    assert "restored from the journal of an interrupted run" in again.output
    running = api.containers(filters={"name": f"^{name}$"})
    assert len(running) == 1 and running[0]["State"] == "running"
    assert_baseline()


@pytest.fixture
def stable_lookalike(sandbox):
    """An image that reports the stable version but is not the stable image: a commit of the
    stable container (same AURA_VERSION, another image ID). Removed afterwards."""
    api = _engine(sandbox)
    repo = sandbox["docker"]["image"]
    image = api.commit(sandbox["services"]["api_v1"], repository=repo, tag="verdict-lookalike")
    yield f"{repo}:verdict-lookalike"
    api.remove_image(image["Id"], force=True)


def test_a_rollback_to_an_image_that_only_reports_the_stable_version_is_not_recovered(tmp_path, sandbox,
                                                                                     stable_lookalike):
    # The probe sees v1.0.0 on api_v1, healthy; only the engine can tell it is not the stable image.
    recreate = (f'cd {PROJECT} && {sys.executable} -c "from helpers.container_swap import recreate_with_image; '
                f'from helpers.engine_api import Engine; '
                f'recreate_with_image(Engine(\'{sandbox["docker"]["url"]}\'), \'{sandbox["services"]["api_v1"]}\', '
                f'\'{stable_lookalike}\')"\n')
    rollback = executable(tmp_path / "rollback", recreate)
    # 20 s: the recreate (a clone with the sandbox's whole set of settings; Podman took 2 s to start it
    # and the new image 4-10 s to boot on a busy machine) fits inside it, so the front is seen healthy
    run = run_suite("--drill-config", overlay(tmp_path, commands={"rollback": rollback}, rto={"image": 20}),
                    "-k", "image")
    d = run.drill("test_image_rollback")
    assert d["status"] == "failed" and d["rto_actual_s"] is None and d["command_exit"] == 0, d
    headline = d["problems"][0]
    assert headline.startswith("not recovered within the 20s RTO budget ([rto] image): "), headline
    assert f'{sandbox["services"]["api_v1"]} runs image sha256:' in headline and "never restored" in headline
    assert "probe never saw" not in headline  # the front itself looked recovered
    assert d["restored"] is True
    assert_baseline()
