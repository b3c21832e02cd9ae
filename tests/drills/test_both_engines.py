"""The seven drills on Docker Engine and on Podman, and containers handed back exactly as found.

The sandbox's API services are its compose project ([compose]): the drills run on the compose
staging, compose sees no drift after them, the team's compose files and env file are left as they
were, and a rollback that does nothing fails there too.

One module-scoped fixture, parametrised by engine, brings the main sandbox up on that engine
(AURA_SANDBOX_ENGINE=docker: a Docker Engine whose /version names no Podman component, here the
sandbox's own private dockerd; podman: the sandbox's Podman service) and puts it back on the engine it
was on afterwards. An engine that cannot be had fails the test: nothing here is skipped.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from helpers.compose import compose_of, drift
from helpers.config import load_config
from helpers.container_definition import COMPOSE_OWNED_LABELS, SUITE_LABEL, rollback_changes
from helpers.container_swap import recreate_with_image, restore_container
from helpers.engine_api import Engine
from helpers.fingerprint import compose_paths
from helpers.front import LocalFront
from tests.drills.suite_runner import (
    FAST,
    run_suite,
    sandbox_at_baseline,
    sandbox_config,
    toml_overlay,
)

pytestmark = pytest.mark.e2e

ENGINES = ("podman", "docker")
DRILL_TYPES = {"image", "nginx", "database", "upstream", "full", "emergency"}


def dockerd_pids(state: Path) -> list[int]:
    """Live dockerd processes serving a socket under `state` (the sandbox's own)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args and os.path.basename(args[0].decode(errors="replace")) == "dockerd" and \
                any(str(state).encode() in a for a in args):
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="module", params=ENGINES)
def on_engine(request, main_sandbox):
    """(engine, sandbox config) with the main sandbox on `engine`; the suite runs started from here
    inherit AURA_SANDBOX_ENGINE, so their own `sandbox up` keeps it there."""
    engine = request.param
    mp = pytest.MonkeyPatch()
    mp.setenv("AURA_SANDBOX_ENGINE", engine)
    try:
        yield engine, sandbox_config()
    finally:
        mp.undo()
    cfg = sandbox_config()  # back on the engine this test process was given
    if engine == "docker" and not cfg["docker"]["url"].endswith("/dockerd/docker.sock"):
        state = Path(cfg["docker"]["url"].removeprefix("unix://")).parents[1]
        assert dockerd_pids(state) == [], "switching away from the private dockerd left it running"


def test_the_engine_is_the_one_asked_for_and_its_containers_carry_a_real_services_settings(on_engine):
    engine, cfg = on_engine
    with Engine(cfg["docker"]["url"]) as adapter:
        assert adapter.kind == engine
        saved = adapter.container_definition(cfg["services"]["api_v1"])
    assert saved is not None
    config, host = saved.definition["Config"], saved.definition["HostConfig"]
    assert config["Entrypoint"] == ["/usr/bin/python3", "-u"] and config["Cmd"] == ["/app/aura_api.py"]
    assert config["User"] == "65534:65534" and config["StopTimeout"] == 3
    assert config["Healthcheck"]["Interval"] == 30_000_000_000
    assert host["PidsLimit"] == 64 and host["Memory"] == 256 * 2**20 and host["NanoCpus"] == 10**9
    assert host["ReadonlyRootfs"] is True and host["SecurityOpt"] == ["no-new-privileges"]
    assert host["OomScoreAdj"] == 100 and "/tmp" in host["Tmpfs"]
    assert [u["Name"] for u in host["Ulimits"]] == ["nofile", "nproc"]
    assert host["LogConfig"]["Type"] == "json-file"
    # Podman expands `cap_drop: ALL` to the list of its default capabilities and reports named
    # volumes among the binds; Docker keeps what was asked (README "Docker Engine and Podman").
    # Compose asks Docker for both volumes as Mounts (the bind read-only); Podman reports them as Binds.
    if engine == "docker":
        mounts = {m["Target"]: m for m in host["Mounts"]}
        assert host["CapDrop"] == ["ALL"] and mounts["/var/lib/aura"]["Type"] == "volume"
        assert mounts["/etc/aura"]["Type"] == "bind" and mounts["/etc/aura"]["ReadOnly"] is True
        assert host["LogConfig"]["Config"] == {"max-file": "2", "max-size": "1m"}
    else:
        assert "NET_RAW" in host["CapDrop"] and any(":/var/lib/aura:" in b for b in host["Binds"])
        assert host["LogConfig"]["Config"] is None  # Podman keeps no log options
        assert any(":/etc/aura:ro" in b for b in host["Binds"])


def test_a_clone_carries_settings_no_code_names_and_the_restore_carries_every_label_back(on_engine):
    """A container of the test's own, with settings neither the suite nor the sandbox names anywhere
    (shm size, CPU shares, a memory reservation, an extra group, a second tmpfs) and compose's
    labels: the fault's clone keeps every setting but claims no compose definition; the restore's
    clone is the original again, label for label, without the suite's marker."""
    _engine, cfg = on_engine
    name = cfg["services"]["api_v1"] + "-clone-test"
    stable = f'{cfg["docker"]["image"]}:{cfg["docker"]["stable_tag"]}'
    bad = f'{cfg["docker"]["image"]}:{cfg["docker"]["bad_tag"]}'
    with Engine(cfg["docker"]["url"]) as adapter:
        with adapter.call("test container") as api:
            host = api.create_host_config(network_mode="host", shm_size="48m", cpu_shares=512, mem_reservation="64m",
                                          group_add=["65534"], tmpfs={"/scratch": "rw,size=8m"},
                                          ulimits=[{"Name": "nofile", "Soft": 1024, "Hard": 1024},
                                                   {"Name": "nproc", "Soft": 1024, "Hard": 1024}])
            api.create_container(stable, name=name, entrypoint=["/usr/bin/python3", "-c"],
                                 command=["import time; time.sleep(600)"], environment={"TEAM": "payments"},
                                 labels={"team": "payments", COMPOSE_OWNED_LABELS[0]: "9f1c",
                                         COMPOSE_OWNED_LABELS[1]: "sha256:1234"},
                                 host_config=host, stop_signal="SIGKILL")
            api.start(name)
        try:
            before = adapter.container_definition(name)
            assert before is not None
            recreate_with_image(adapter, name, bad, stop_timeout=1)
            faulted = adapter.container_definition(name)
            assert faulted is not None and faulted.image_id == adapter.image_id_of(bad)
            h = faulted.definition["HostConfig"]
            assert (h["ShmSize"], h["CpuShares"], h["MemoryReservation"]) == (48 * 2**20, 512, 64 * 2**20)
            assert h["GroupAdd"] == ["65534"] and "/scratch" in h["Tmpfs"]
            labels = faulted.definition["Config"]["Labels"]
            assert labels[SUITE_LABEL] and labels["team"] == "payments"
            assert not set(COMPOSE_OWNED_LABELS) & set(labels)  # it claims no compose definition
            assert rollback_changes(before.definition, faulted.definition) == []  # but nothing else changed

            assert restore_container(adapter, name, before, stop_timeout=1).changed
            after = adapter.container_definition(name)
            assert after is not None and after.image_id == before.image_id and after.ref == before.ref
            assert after.definition == before.definition and after.digest == before.digest
            assert SUITE_LABEL not in after.definition["Config"]["Labels"]
        finally:
            adapter.remove_container(name)


def compose_state(cfg: dict) -> tuple[dict[str, str], dict[str, str | None], dict[str, str]]:
    """(compose config's images, sha256 of the team's compose files and env file, drift per
    container) as compose and the engine see them now. Read from the config file `sandbox up`
    wrote, without running `up` again (it would put the project back at its baseline)."""
    loaded = load_config(Path(cfg["compose"]["project_directory"]) / "sandbox.toml")
    front = LocalFront()
    compose = compose_of(loaded, front)
    assert compose is not None, "the sandbox's config has no [compose]"
    files = {p: front.sha256(p) for p in compose_paths(loaded)}
    with Engine(cfg["docker"]["url"]) as adapter:
        labels = {n: (d.definition["Config"]["Labels"] if (d := adapter.container_definition(n)) else None)
                  for n in cfg["services"].values()}
    return compose.images(), files, drift(labels, compose.services_of(labels), compose.config_hashes())


def test_the_seven_drills_pass_and_hand_every_container_back_as_found(on_engine, tmp_path):
    engine, cfg = on_engine
    with Engine(cfg["docker"]["url"]) as adapter:
        before = {k: adapter.container_definition(n) for k, n in cfg["services"].items()}
    images, files, in_sync = compose_state(cfg)
    assert set(in_sync.values()) == {"in sync"}, in_sync
    run = run_suite("--drill-config", str(toml_overlay(tmp_path / "fast.toml", FAST)))
    assert run.exit_code == 0, run.output[-3000:]
    # the runbook's current-version line: the images compose's `config` resolves
    logged = (run.reports / "rollback-drill.log").read_text()
    assert "当前版本 compose " + " ".join(f"{s}={i}" for s, i in images.items()) in logged, logged[-2000:]
    # compose sees no drift, the team's files are byte for byte as found, no override is left
    assert compose_state(cfg) == (images, files, in_sync)
    # the image and full drills' faults were deployed through the drill's override, which the restore deleted
    assert logged.count("deleted the override") >= 2, logged[-2000:]
    drills = run.results["drills"]
    assert len(drills) == 7 and {d["type"] for d in drills} == DRILL_TYPES, [d["id"] for d in drills]
    # `restored`: after each drill the fingerprint read afresh — every container's definition digest
    # among it — equalled the snapshot's
    assert all(d["status"] == "passed" and d["restored"] is True for d in drills), \
        [(d["id"], d["problems"]) for d in drills if d["status"] != "passed"]
    with Engine(cfg["docker"]["url"]) as adapter:
        after = {k: adapter.container_definition(n) for k, n in cfg["services"].items()}
    for key, was in before.items():
        now = after[key]
        assert was is not None and now is not None
        assert (now.image_id, now.ref, now.definition) == (was.image_id, was.ref, was.definition), key
    ok, status = sandbox_at_baseline()
    assert ok, status
    if engine == "docker":
        # the private dockerd is the sandbox's: `down` stops it by its pid file, and `up` starts it again
        state = Path(cfg["docker"]["url"].removeprefix("unix://")).parents[1]
        assert len(dockerd_pids(state)) == 1
        from tests.drills.suite_runner import sandbox_down

        sandbox_down()
        assert dockerd_pids(state) == [], "down left the sandbox's dockerd running"
        assert (state / "dockerd" / "root").is_dir()  # its data root stays until `down --purge`
        assert sandbox_config()["docker"]["url"] == cfg["docker"]["url"]


def test_deploy_sets_the_tag_and_the_image_rollback_brings_the_stable_one_back_through_compose(on_engine):
    """The runbook's scripts on the compose staging: deploy.sh writes the service's tag into .env
    and `up -d`s it; rollback.sh --type image writes the stable tag back and `up -d`s again."""
    _engine, cfg = on_engine
    images, files, in_sync = compose_state(cfg)
    path = Path(cfg["compose"]["project_directory"]) / "sandbox.toml"
    env_file = Path(cfg["compose"]["env_file"])
    scripts = Path(__file__).resolve().parents[2] / "sandbox" / "auraflow"
    deployed = subprocess.run([str(scripts / "deploy" / "deploy.sh"), "--config", str(path), "--service", "api_v1",
                               "--tag", "v1.1.0"], capture_output=True, text=True, timeout=180)
    try:
        assert deployed.returncode == 0, deployed.stderr
        assert "API_V1_TAG=v1.1.0" in env_file.read_text().splitlines()
        now = compose_state(cfg)
        assert now[0]["api_v1"].endswith(":v1.1.0") and set(now[2].values()) == {"in sync"}, now
    finally:
        back = subprocess.run([str(scripts / "scripts" / "rollback.sh"), "--config", str(path), "--type", "image",
                               "--reason", "after the deploy test", "--yes"], capture_output=True, text=True,
                              timeout=180)
    assert back.returncode == 0, back.stderr
    assert "compose up -d api_v1" in back.stdout
    assert compose_state(cfg) == (images, files, in_sync)  # .env byte for byte as before, no drift
    ok, status = sandbox_at_baseline()
    assert ok, status


def test_a_rollback_that_does_nothing_fails_on_the_compose_staging(on_engine, tmp_path):
    """`[commands] rollback = /bin/true`: the fault's container (compose's own, from the drill's
    override) stays; the drill must fail as not recovered, and the restore still leaves no drift."""
    _engine, cfg = on_engine
    before = compose_state(cfg)
    overlay = toml_overlay(tmp_path / "noop.toml", {**FAST, "commands": {"rollback": "/bin/true"}, "rto": {"image": 3}})
    run = run_suite("--drill-config", str(overlay), "-k", "test_image_rollback")
    d = run.drill("test_image_rollback")
    assert run.exit_code == 1 and d["status"] == "failed" and d["rto_actual_s"] is None, run.output[-3000:]
    assert d["fault"]["observed"] in ("visible", "latent") and d["restored"] is True, d
    assert compose_state(cfg) == before
