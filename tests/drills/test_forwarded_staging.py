"""The suite against the hosts layout with `[front] forward = ["database", "docker", "upstreams"]`:
the seven drills pass with the database, the engine and the upstreams' checks reached through the
front host, and a tunnel that dies mid-run stops the run before its next drill.

A private hosts-layout instance (tests/sandbox_ids.py "forward-drills") is brought up for this
module and purged at its end. Every run is the real suite as a subprocess with a complete copy of
the printed config, `[front] forward` added and [probe] made fast.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.drills.suite_runner import (
    FAST,
    PROJECT,
    drills_command,
    fresh_reports_dir,
    run_suite,
    toml_file,
    wait_for_log,
)
from tests.procfs import process_alive
from tests.sandbox.sandbox_cli import Instance

pytestmark = pytest.mark.e2e

HOSTS = Instance.named("forward-drills")


@pytest.fixture(scope="module")
def hosts() -> Iterator[dict]:
    """The hosts layout, up for this module; its printed config, parsed. Purged at the end."""
    r = HOSTS.run("up", "--hosts", timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    try:
        yield tomllib.loads(Path(r.stdout.strip().splitlines()[-1]).read_text())
    finally:
        HOSTS.run("down", "--purge", timeout=300)


def forwarded(hosts: dict, tmp_path: Path) -> str:
    data = {s: dict(t) for s, t in hosts.items()}
    data["front"]["forward"] = ["database", "docker", "upstreams"]
    for section, keys in FAST.items():
        data.setdefault(section, {}).update(keys)
    return str(toml_file(tmp_path / "forwarded.toml", data))


def test_the_seven_drills_pass_through_the_forwards(hosts, tmp_path):
    run = run_suite("--drill-config", forwarded(hosts, tmp_path), timeout=1200)
    assert run.exit_code == 0, run.output[-4000:]
    drills = run.results["drills"]
    assert sorted(d["type"] for d in drills) == ["database", "emergency", "full", "image", "nginx", "nginx",
                                                 "upstream"]
    for d in drills:
        assert d["status"] == "passed" and d["restored"] is True, d


def _control_master_of(pid: int) -> int:
    """The run's SSH control master: its child `ssh … ControlMaster=yes … -N`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        if ppid == pid and b"ControlMaster=yes" in argv:
            found.append(int(entry.name))
    assert len(found) == 1, found
    return found[0]


def test_a_tunnel_that_dies_mid_run_stops_the_run_before_the_next_drill(hosts, tmp_path):
    reports = fresh_reports_dir()
    log = reports / "rollback-drill.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    with subprocess.Popen(drills_command("--drill-config", forwarded(hosts, tmp_path), "-k",
                                         "breaks_serving or upstream", reports=reports),
                          cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=environment) as proc:
        try:
            wait_for_log(proc, log, "rollback --type nginx started", "the first drill to reach its rollback")
            master = _control_master_of(proc.pid)
            os.kill(master, signal.SIGKILL)  # the tunnel dies: the lock's session with it
            output, _ = proc.communicate(timeout=600)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert not process_alive(master)
    assert proc.returncode == 4, output[-4000:]
    assert "the run lock was lost" in output, output[-4000:]
    drills = {d["type"]: d for d in json.loads((reports / "drill-results.json").read_text())["drills"]}
    assert set(drills) == {"nginx", "upstream"}, drills
    # the next drill is refused at its start, before its snapshot: no fault, no rollback
    refused = drills["upstream"]
    assert refused["status"] == "error" and refused["fault"] == {"kind": None, "observed": "none"}, refused
    assert refused["command_exit"] is None and any("the run lock was lost" in p for p in refused["problems"])
    # the first drill's restore went through a new master and its forwards: the next run finds
    # staging at its baseline (or restores it from the journal) and passes
    again = run_suite("--drill-config", forwarded(hosts, tmp_path), "-k", "upstream")
    assert again.exit_code == 0, again.output[-3000:]
