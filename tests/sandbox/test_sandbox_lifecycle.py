"""The sandbox against its real components: a private instance (own state, ports, names)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import tomllib
from pathlib import Path

import docker
import httpx
import psycopg
import pytest

from tests.sandbox.sandbox_cli import Instance

LIFE = Instance(state="/var/tmp/aura-t-life", port_base=18480, prefix="aura-life")


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _up(instance: Instance = LIFE, **env) -> dict:
    r = instance.run("up", **env)
    assert r.returncode == 0, r.stderr[-2000:]
    path = Path(r.stdout.strip().splitlines()[-1])
    assert path.is_absolute() and path.exists()
    return tomllib.loads(path.read_text())


def _podman_container_exists(name: str) -> bool:
    return subprocess.run(["podman", "container", "exists", name]).returncode == 0


@pytest.fixture(scope="module")
def life():
    LIFE.run("down")
    yield LIFE
    r = LIFE.run("down")
    assert r.returncode == 0, r.stderr


def test_down_when_nothing_is_up_is_harmless(life):
    r = life.run("down")
    assert r.returncode == 0, r.stderr
    r = Instance("/var/tmp/aura-t-never", 18580, "aura-never").run("down")
    assert r.returncode == 0 and "nothing to stop" in r.stderr


def test_up_reaches_a_healthy_baseline_and_the_system_behaves(life):
    cfg = _up()
    status = life.run("status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "NOT AT BASELINE" not in status.stdout and "UNHEALTHY" not in status.stdout

    base = cfg["target"]["base_url"]
    with httpx.Client(base_url=base, timeout=5) as http:
        assert http.get("/healthz").status_code == 200
        st = http.get("/status").json()
        assert (st["version"], st["pool"]) == ("v1.0.0", "api_v1")
        order = http.post("/api/orders", json={"item": "lifecycle", "quantity": 3})
        assert order.status_code == 201, order.text
        got = http.get(f"/api/orders/{order.json()['id']}").json()
        assert (got["item"], got["quantity"]) == ("lifecycle", 3)
        assert 'version="v1.0.0"' in http.get("/metrics").text

        # switching the include and reloading serves api_v2
        include = Path(cfg["nginx"]["upstream_include"])
        original = include.read_text()
        include.write_text(f"server {cfg['upstreams']['api_v2']};\n")
        subprocess.run(cfg["nginx"]["reload_cmd"].split(), check=True)
        deadline = time.monotonic() + 5
        while http.get("/status").json()["pool"] != "api_v2" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert http.get("/status").json()["version"] == "v2.0.0"
        include.write_text(original)
        subprocess.run(cfg["nginx"]["reload_cmd"].split(), check=True)

        # the bad migration breaks /healthz; migrating back heals it with every row intact
        url = cfg["database"]["url"]
        with psycopg.connect(url) as conn:
            before = conn.execute("SELECT id, item, quantity, customer FROM orders ORDER BY id").fetchall()
        migrate = cfg["commands"]["migrate"].split()
        subprocess.run([*migrate, cfg["database"]["bad_revision"]], check=True, capture_output=True)
        time.sleep(0.3)
        assert http.get("/healthz").status_code == 503
        subprocess.run([*migrate, cfg["releases"]["v1.0.0"]], check=True, capture_output=True)
        assert http.get("/healthz").status_code == 200
        with psycopg.connect(url) as conn:
            after = conn.execute("SELECT id, item, quantity, customer FROM orders ORDER BY id").fetchall()
        assert after == before and before

    assert life.run("status").returncode == 0


def test_up_twice_is_idempotent(life):
    first = _up()
    t = time.monotonic()
    second = _up()
    assert second == first
    assert time.monotonic() - t < 60
    assert life.run("status").returncode == 0


def test_up_recovers_after_a_killed_run(life):
    cfg = _up()
    state = Path(life.state)
    # Simulate a kill: nginx and the receiver die by SIGKILL (stale pid files stay), a container
    # is left stopped in the engine's store, and the config is half-written.
    for pid_file in (state / "nginx" / "nginx.pid", state / "alerts" / "receiver.pid"):
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
    engine = docker.DockerClient(base_url=cfg["docker"]["url"])
    engine.containers.get(cfg["services"]["api_v2"]).stop(timeout=1)
    engine.close()
    (state / "sandbox.toml").write_text("[target]\nname = ")
    time.sleep(0.5)
    assert life.run("status").returncode != 0
    assert _up() == cfg
    assert life.run("status").returncode == 0, life.run("status").stdout


def test_down_leaves_nothing_behind(life):
    cfg = _up()
    r = life.run("down")
    assert r.returncode == 0, r.stderr
    for name in ("front", "api_v1", "api_v2", "alerts", "postgres"):
        assert not _listening(life.port(name)), f"{name} port {life.port(name)} still listening"
    for service in cfg["services"].values():
        assert not _podman_container_exists(service), f"container {service} left behind"
    engine_pid = Path(life.state) / "engine" / "podman.pid"
    assert not engine_pid.exists()


def test_port_taken_is_one_clear_line_and_starts_nothing(life):
    life.run("down")
    with socket.socket() as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", life.port("front")))
        blocker.listen()
        r = life.run("up")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(life.port("front")) in lines[0] and "taken" in lines[0]
    assert not _listening(life.port("postgres"))


def test_missing_binary_is_one_clear_line(life):
    r = life.run("up", AURA_SANDBOX_NGINX="/nonexistent/nginx")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert lines == ["sandbox up: nginx binary not found: /nonexistent/nginx (AURA_SANDBOX_NGINX)"]
    assert not _listening(life.port("postgres"))
