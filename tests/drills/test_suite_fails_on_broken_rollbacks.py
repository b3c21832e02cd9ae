"""The suite must fail when the rollback is broken, and leave the sandbox at baseline each time.

Each case swaps the rollback command for a real executable through a partial --drill-config
(small budgets keep a hung drill to seconds) and runs the real suite against the real sandbox.
"""
from __future__ import annotations

import os
import re
import shlex
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
    sandbox_config,
    toml_overlay,
    wait_for_log,
)
from tests.procfs import process_alive

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def real(main_sandbox):
    """The sandbox's own command strings. The sandbox is up before each suite run, so the suite
    under test treats it as already running and leaves it up."""
    return tomllib.loads(main_sandbox.read_text())["commands"]


@pytest.fixture
def overlay(tmp_path):
    def make(rollback_body: str | None = None, *, rto: dict | None = None,
             migrate_body: str | None = None, probe: dict | None = None) -> str:
        cfg = dict(FAST)
        if probe:
            cfg["probe"] = {**FAST["probe"], **probe}
        commands = {}
        if rollback_body is not None:
            commands["rollback"] = executable(tmp_path / "rollback", rollback_body)
        if migrate_body is not None:
            commands["migrate"] = executable(tmp_path / "migrate", migrate_body)
        if commands:
            cfg["commands"] = commands
        if rto:
            cfg["rto"] = rto
        return str(toml_overlay(tmp_path / "overlay.toml", cfg))
    return make


def assert_baseline():
    ok, status = sandbox_at_baseline()
    assert ok, f"sandbox not at baseline after the run:\n{status}"


def test_the_real_rollback_passes(overlay):
    run = run_suite("--drill-config", overlay(), "-k", "upstream or nginx")
    assert run.exit_code == 0, run.output[-3000:]
    assert {d["status"] for d in run.results["drills"]} == {"passed"}
    assert len(run.results["drills"]) == 3
    assert_baseline()


def test_a_rollback_that_does_nothing_fails_as_not_recovered(overlay):
    run = run_suite("--drill-config", overlay("exit 0\n", rto={"upstream": 2}), "-k", "upstream")
    d = run.drill("test_upstream_switch_rollback")
    assert run.exit_code == 1
    assert d["status"] == "failed" and d["rto_actual_s"] is None and d["command_exit"] == 0
    assert d["problems"][0].startswith("not recovered within the 2s RTO budget")
    assert d["restored"] is True
    assert_baseline()


def test_a_rollback_that_exits_non_zero_fails_with_its_exit_code(overlay):
    body = 'echo "rollback: engine unreachable" >&2\nexit 3\n'
    run = run_suite("--drill-config", overlay(body, rto={"nginx": 2}), "-k", "invalid_config")
    d = run.drill("invalid_config")
    assert d["status"] == "failed" and d["command_exit"] == 3
    assert d["problems"][0] == "rollback exited 3: rollback: engine unreachable"
    assert_baseline()


def test_a_rollback_that_heals_late_measures_rto_of_at_least_the_delay(overlay, real):
    delay = 1.5
    # Exits 0 at once; the real rollback runs in the background after `delay` seconds.
    body = f'( sleep {delay}; exec {real["rollback"]} "$@" ) >/dev/null 2>&1 &\nexit 0\n'
    run = run_suite("--drill-config", overlay(body, rto={"upstream": 20}), "-k", "upstream")
    d = run.drill("test_upstream_switch_rollback")
    assert d["status"] == "passed", d["problems"]
    # the command exited 0 before the target recovered: RTO follows the healing, not the exit
    assert d["command_exit"] == 0 and d["command_s"] < d["rto_actual_s"]
    assert d["rto_actual_s"] >= delay
    assert_baseline()


def test_a_rollback_slower_than_its_budget_fails_and_is_killed(overlay, real, tmp_path):
    # Records its own PID and its sleep's, and leaves a mark if it ever gets past the sleep.
    body = (f'echo $$ > {tmp_path}/rollback.pid\nsleep 6 & echo $! > {tmp_path}/sleep.pid\nwait $!\n'
            f'touch {tmp_path}/past-the-sleep\nexec {real["rollback"]} "$@"\n')
    run = run_suite("--drill-config", overlay(body, rto={"upstream": 2}), "-k", "upstream")
    d = run.drill("test_upstream_switch_rollback")
    assert d["status"] == "failed" and d["rto_actual_s"] is None
    assert d["problems"][0] == "rollback command still running at the 2s budget: killed"
    # while it was not recovered, the terminal said so against the budget
    assert re.search(r"\[upstream [\d.]+s\] waiting for recovery: [\d.]+s of the 2s budget; rollback command "
                     r"still running; front: healthz 200, version v2\.0\.0, pool api_v2", run.output), \
        run.output[-3000:]
    assert d["command_exit"] is not None and d["command_exit"] < 0  # ended by a signal, not by itself
    # the whole group went: neither the script nor its sleep runs, and the script never went on
    for name in ("rollback.pid", "sleep.pid"):
        assert not process_alive(int((tmp_path / name).read_text())), name
    assert not (tmp_path / "past-the-sleep").exists()
    assert_baseline()


def test_a_sabotaged_restore_ends_in_error_naming_the_field_and_the_next_run_recovers(overlay, real):
    # The rollback heals the upstream but also moves the schema to the base revision; the
    # restore's own means are sabotaged too ([commands] migrate fails), so the restore cannot
    # put the revision back and must say so.
    body = f'{real["rollback"]} "$@" || exit $?\nexec {real["migrate"]} 0001_base >/dev/null 2>&1\n'
    cfg = overlay(body, migrate_body='echo "migrate: unavailable" >&2\nexit 1\n')
    run = run_suite("--drill-config", cfg, "-k", "upstream")
    d = run.drill("test_upstream_switch_rollback")
    assert d["status"] == "error" and d["restored"] is False
    assert any(p.startswith("restore failed: db_revision: 0002_customer -> 0001_base")
               for p in d["problems"]), d["problems"]
    ok, _ = sandbox_at_baseline()
    assert not ok  # the sabotage really left the sandbox off its baseline

    # Repair the sandbox by its own means; the next run restores from the pending journal first.
    sandbox_config()
    again = run_suite("-k", "upstream")
    assert again.exit_code == 0, again.output[-3000:]
    assert "restored from the journal" in (again.reports / "rollback-drill.log").read_text()
    assert_baseline()


# -- the remaining drills (image, database, emergency) ----------------------------------------

def test_an_image_rollback_to_a_different_tag_than_asked_fails_on_the_end_state(overlay, real):
    # Rolls back to v1.1.0 whatever --tag says: healthy, but the wrong release.
    body = ('args=(); while [ $# -gt 0 ]; do if [ "$1" = --tag ]; then args+=(--tag v1.1.0); shift 2; '
            'else args+=("$1"); shift; fi; done\n'
            f'exec {real["rollback"]} "${{args[@]}}"\n')
    run = run_suite("--drill-config", overlay(body, rto={"image": 8}), "-k", "image")
    d = run.drill("test_image_rollback")
    assert d["status"] == "failed" and d["restored"] is True
    assert d["problems"][0].startswith("not recovered within the 8s RTO budget"), d["problems"]
    assert any(p.startswith("end state: api_v1 runs") and "v1.1.0" in p for p in d["problems"]), d["problems"]
    assert_baseline()


def test_a_database_rollback_that_leaves_the_bad_revision_fails(overlay):
    body = 'echo "database: rolled back" \nexit 0\n'
    run = run_suite("--drill-config", overlay(body, rto={"database": 3}), "-k", "database")
    d = run.drill("test_database_rollback")
    assert d["status"] == "failed" and d["restored"] is True
    assert d["problems"][0].startswith("not recovered within the 3s RTO budget")
    assert "database at 0002_customer" in d["problems"][0]
    assert any(p == "end state: database at 0003_rename_item, not 0002_customer" for p in d["problems"]), d["problems"]
    assert_baseline()


def test_an_emergency_rollback_that_never_sends_the_alert_fails(tmp_path, real):
    silent_alert = executable(tmp_path / "alert", 'echo "alert sent"\nexit 0\n')
    cfg = toml_overlay(tmp_path / "overlay.toml", {**FAST, "commands": {"alert": silent_alert}})
    run = run_suite("--drill-config", str(cfg), "-k", "emergency")
    d = run.drill("test_emergency_rollback")
    assert d["status"] == "failed" and d["rto_actual_s"] is not None
    assert d["problems"][0].startswith("alert not received:"), d["problems"]
    assert_baseline()


def test_a_run_killed_mid_drill_is_restored_from_its_journal_by_the_next_run(overlay, tmp_path, main_sandbox):
    # The rollback hangs, so the drill is mid-rollback (fault in place) when pytest is SIGKILLed:
    # no finalizer runs, only the journal on disk remains.
    pidfile = tmp_path / "rollback.pid"
    hang = overlay(hanging(pidfile), rto={"upstream": 30})
    log = tmp_path / "killed-run" / "rollback-drill.log"
    proc = subprocess.Popen(drills_command("--drill-config", hang, "-k", "upstream", reports=log.parent),
                            cwd=PROJECT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_log(proc, log, "upstream drill: rollback --type upstream started", "the drill to reach its rollback",
                 60, 0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kill_recorded(pidfile)  # the hung rollback (its own session)
    ok, status = sandbox_at_baseline()
    api_v2 = tomllib.loads(main_sandbox.read_text())["upstreams"]["api_v2"]
    assert not ok and f"include 'server {api_v2};'" in status  # the fault is still in place

    again = run_suite("-k", "upstream")
    assert again.exit_code == 0, again.output[-3000:]
    assert "restored from the journal of an interrupted run: drills/test_upstream_switch.py" in \
        (again.reports / "rollback-drill.log").read_text()
    assert_baseline()


def test_a_budget_too_small_for_the_real_rollback_fails_saying_how_late_it_recovered(overlay):
    # The real rollback must end on its own: past the budget it gets max(1 s, 4 probe intervals)
    # before its group is killed, and the upstream rollback (switch, reload, its own HTTPS check)
    # takes about 1 s here, more on a loaded machine. A 500 ms interval gives it 2 s.
    run = run_suite("--drill-config", overlay(rto={"upstream": 0.05}, probe={"interval_ms": 500}), "-k", "upstream")
    d = run.drill("test_upstream_switch_rollback")
    assert d["status"] == "failed" and d["rto_actual_s"] is None and d["command_exit"] == 0
    headline = d["problems"][0]
    assert headline.startswith("not recovered within the 0.05s RTO budget ([rto] upstream): ")
    late = float(headline.split("it recovered ")[1].split("s after")[0])
    assert late > 0.05
    assert_baseline()


@pytest.mark.parametrize("command, drill", [("switch_upstream", "upstream"), ("migrate", "database")])
def test_a_fault_that_did_nothing_fails_the_drill_as_not_observed(tmp_path, command, drill):
    # The fault's own tool exits 0 and changes nothing: the drill must not pass on it.
    idle = executable(tmp_path / command, 'echo "done"\nexit 0\n')
    cfg = toml_overlay(tmp_path / "overlay.toml", {**FAST, "commands": {command: idle}})
    run = run_suite("--drill-config", str(cfg), "-k", drill)
    d = next(r for r in run.results["drills"] if r["type"] == drill)
    assert d["status"] == "failed" and d["fault"]["observed"] == "none"
    assert d["problems"][0].startswith("fault not observed:"), d["problems"]
    assert d["command_exit"] is None  # the rollback under test was never run
    assert_baseline()


# -- the right version in a degraded container ------------------------------------------------
# Each rollback brings api_v1 back on the stable image (healthy, the right /status version), but in a
# container that lost part of its definition. The drill must fail naming what changed, and the
# restore must give the container back whole: the fingerprint (with each container's definition
# digest) equals the snapshot's, so the drill is `restored`, and `sandbox status` is at baseline.

def _degrading_rollback(real: dict, change: str) -> str:
    """The real rollback, then api_v1 recreated on the image it now runs through the engine's API
    with `change` applied to the inspect answer's Config / HostConfig (python, `c` and `h`)."""
    url, name = sandbox_config()["docker"]["url"], sandbox_config()["services"]["api_v1"]
    script = (
        "import docker\n"
        f"api = docker.APIClient(base_url={url!r}, timeout=60)\n"
        f"a = api.inspect_container({name!r})\n"
        "c, h = a['Config'], a['HostConfig']\n"
        "for k in ('Hostname', 'Domainname'): c.pop(k, None)\n"
        "h.pop('ConsoleSize', None)\n"
        "if h.get('NanoCpus'): h.pop('CpuPeriod', None); h.pop('CpuQuota', None)\n"
        "for u in h.get('Ulimits') or []: u['Name'] = u['Name'].removeprefix('RLIMIT_').lower()\n"
        f"{change}\n"
        "api.stop(a['Id'], timeout=3); api.remove_container(a['Id'], force=True)\n"
        f"new = api.create_container_from_config({{**c, 'HostConfig': h}}, {name!r})\n"
        "api.start(new['Id'])\n")
    return f'{real["rollback"]} "$@" || exit $?\nexec {sys.executable} -c {shlex.quote(script)}\n'


@pytest.mark.parametrize("change, named", [
    # the limits a careless recreate drops, while the service still answers
    # (the sandbox's services are a compose project now: their labels are compose's, not aura.spec)
    ("h['PidsLimit'] = None; h['Memory'] = 0; h['MemorySwap'] = 0; h['NanoCpus'] = 0",
     # (Podman gives a container that asks for no pids limit its default of 2048)
     ["HostConfig.Memory: 268435456 -> None", "HostConfig.PidsLimit: 64 -> "]),
    # running as root with every capability back and a writable root filesystem
    ("c['User'] = ''; h['CapDrop'] = None; h['ReadonlyRootfs'] = False",
     ["Config.User: 65534:65534 -> None", "HostConfig.ReadonlyRootfs: True -> None"]),
], ids=["limits dropped", "root and writable"])
def test_a_rollback_to_the_right_version_in_a_degraded_container_fails_naming_what_changed(overlay, real, change,
                                                                                            named):
    run = run_suite("--drill-config", overlay(_degrading_rollback(real, change), rto={"image": 30}), "-k", "image")
    d = run.drill("test_image_rollback")
    assert d["status"] == "failed" and d["rto_actual_s"] is not None, d  # it did recover: version and image right
    line = next((p for p in d["problems"] if "came back with another definition" in p), None)
    assert line is not None, d["problems"]
    assert line.startswith(f'end state: {sandbox_config()["services"]["api_v1"]} (api_v1) came back with another '
                           "definition: "), line
    for what in named:
        assert what in line, line
    # the restore gave the container back whole: the fresh fingerprint, definition digests included,
    # equals the snapshot's (else `restored` is false), and the sandbox says it is at its baseline
    assert d["restored"] is True, d["problems"]
    assert_baseline()
