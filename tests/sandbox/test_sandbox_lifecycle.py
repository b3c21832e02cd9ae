"""The sandbox against its real components: a private instance (own state, ports, names)."""
from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import tomllib
from pathlib import Path

import docker
import httpx
import psycopg
import pytest

from helpers.wait import Wait
from tests import target_http
from tests.procfs import process_alive
from tests.sandbox.sandbox_cli import Instance

pytestmark = pytest.mark.sandbox

LIFE = Instance.named("life")


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


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _container_exists(name: str) -> bool:
    """Asked of the engine's store directly (the sandbox's engine service may be stopped)."""
    cli = shutil.which("podman") or shutil.which("docker")
    assert cli, "no podman or docker command to look into the engine's store"
    return subprocess.run([cli, "container", "inspect", name], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def life():
    LIFE.run("down")
    yield LIFE
    r = LIFE.run("down", "--purge")  # leave no state folder behind either
    assert r.returncode == 0, r.stderr


def test_down_when_nothing_is_up_is_harmless(life):
    r = life.run("down")
    assert r.returncode == 0, r.stderr
    r = Instance.named("never").run("down")
    assert r.returncode == 0 and "nothing to stop" in r.stderr


def test_up_reaches_a_healthy_baseline_and_the_system_behaves(life):
    cfg = _up()
    status = life.run("status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "NOT AT BASELINE" not in status.stdout and "UNHEALTHY" not in status.stdout

    base = cfg["target"]["base_url"]
    assert base.startswith("https://127.0.0.1:")
    # the sandbox's own CA, not a public one
    with httpx.Client(base_url=base, timeout=5) as no_ca, pytest.raises(httpx.ConnectError,
                                                                      match="CERTIFICATE_VERIFY_FAILED"):
        no_ca.get("/healthz")
    with target_http.client(cfg, authorized=False, base_url=base, timeout=5) as anonymous:
        assert anonymous.get("/healthz").status_code == 200 and anonymous.get("/status").status_code == 200
        assert anonymous.get("/metrics").status_code == 401
        assert anonymous.post("/api/orders", json={"item": "no token", "quantity": 1}).status_code == 401
        wrong = anonymous.post("/api/orders", json={"item": "x", "quantity": 1},
                               headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401
    with target_http.client(cfg, base_url=base, timeout=5) as http:
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
        subprocess.run(shlex.split(cfg["nginx"]["reload_cmd"]), check=True)
        # A reload's old worker closes the client's idle kept-alive connection: the request that
        # finds it closed is "not yet" (the next one connects to a new worker), as for any client.
        reloaded = (httpx.TransportError,)
        Wait("the front to answer from api_v2", 5, 0.05).poll(lambda: http.get("/status").json()["pool"] == "api_v2",
                                                             ignore=reloaded)
        assert http.get("/status").json()["version"] == "v2.0.0"
        include.write_text(original)
        subprocess.run(shlex.split(cfg["nginx"]["reload_cmd"]), check=True)

        # the bad migration breaks /healthz; migrating back heals it with every row intact
        url = cfg["database"]["url"]
        with psycopg.connect(url) as conn:
            before = conn.execute("SELECT id, item, quantity, customer FROM orders ORDER BY id").fetchall()
        migrate = shlex.split(cfg["commands"]["migrate"])
        subprocess.run([*migrate, cfg["database"]["bad_revision"]], check=True, capture_output=True)
        Wait("/healthz to answer 503 on the bad revision", 5, 0.05).poll(
            lambda: http.get("/healthz").status_code == 503, ignore=reloaded)
        assert http.get("/healthz").status_code == 503
        subprocess.run([*migrate, cfg["releases"]["v1.0.0"]], check=True, capture_output=True)
        assert http.get("/healthz").status_code == 200
        with psycopg.connect(url) as conn:
            after = conn.execute("SELECT id, item, quantity, customer FROM orders ORDER BY id").fetchall()
        assert after == before and before

    assert life.run("status").returncode == 0


def _running_identity(cfg: dict) -> dict:
    """What a second `up` must not replace: container IDs and the PIDs of our servers."""
    state = Path(LIFE.state)
    engine = docker.DockerClient(base_url=cfg["docker"]["url"])
    try:
        ids = {name: engine.containers.get(name).id for name in cfg["services"].values()}
    finally:
        engine.close()
    pids = {f: (state / f).read_text().split()[0] for f in
            ("nginx/nginx.pid", "alerts/receiver.pid", "engine/podman.pid", "pg/data/postmaster.pid")}
    return {"containers": ids, "pids": pids}


def test_up_twice_is_idempotent(life):
    first = _up()
    before = _running_identity(first)
    second = _up()
    assert second == first
    assert _running_identity(second) == before  # nothing restarted or recreated
    assert life.run("status").returncode == 0


def test_up_recovers_after_a_killed_run(life):
    cfg = _up()
    state = Path(life.state)
    engine = docker.DockerClient(base_url=cfg["docker"]["url"])
    engine.containers.get(cfg["services"]["api_v2"]).stop(timeout=1)  # left stopped in the store
    engine.close()
    # Simulate a kill: every server dies by SIGKILL (stale pid files, a stale engine socket and
    # postmaster.pid stay), and the config is half-written.
    killed = [int((state / pid_file).read_text().split()[0]) for pid_file in
              ("nginx/nginx.pid", "alerts/receiver.pid", "engine/podman.pid", "pg/data/postmaster.pid")]
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    (state / "sandbox.toml").write_text("[target]\nname = ")
    Wait("the killed servers to be gone", 10, 0.05).until(lambda: [pid for pid in killed if process_alive(pid)],
                                                          ready=lambda alive: not alive)
    assert life.run("status").returncode != 0
    assert _up() == cfg
    status = life.run("status")
    assert status.returncode == 0, status.stdout


@pytest.mark.parametrize("damage", ["lost", "not UTF-8"])
def test_up_after_the_secrets_file_was_lost_sets_the_new_password(life, damage):
    old = _up()["database"]["url"]
    if damage == "lost":
        (Path(life.state) / "secrets.toml").unlink()
    else:
        (Path(life.state) / "secrets.toml").write_bytes(b"\xff\xfe[secrets]\n")
    new = _up()["database"]["url"]
    assert new != old
    with psycopg.connect(new, connect_timeout=3) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert life.run("status").returncode == 0


def test_down_after_the_engine_was_killed_still_removes_the_containers(life):
    cfg = _up()
    engine_pid = int((Path(life.state) / "engine/podman.pid").read_text())
    os.kill(engine_pid, signal.SIGKILL)
    Wait("the killed engine to be gone", 10, 0.05).until(lambda: not process_alive(engine_pid))
    r = life.run("down")
    assert r.returncode == 0, r.stderr
    for service in cfg["services"].values():
        assert not _container_exists(service), f"container {service} left behind"
    assert not _listening(life.port("api_v1")) and not _listening(life.port("api_v2"))


def test_down_leaves_nothing_behind(life):
    cfg = _up()
    pids = _running_identity(cfg)["pids"]
    r = life.run("down")
    assert r.returncode == 0, r.stderr
    for name in ("front", "api_v1", "api_v2", "alerts", "postgres"):
        assert not _listening(life.port(name)), f"{name} port {life.port(name)} still listening"
    for service in cfg["services"].values():
        assert not _container_exists(service), f"container {service} left behind"
    for what, pid in pids.items():
        assert not _alive(int(pid)), f"{what} (pid {pid}) still running"
    assert not (Path(life.state) / "engine" / "podman.pid").exists()


def test_the_front_serves_https_with_a_ca_of_this_state_folder_and_the_config_says_so(life):
    cfg = _up()
    state = Path(life.state)
    tls = state / "tls"
    for name, mode in (("ca.key", 0o600), ("front.key", 0o600), ("ca.pem", 0o644), ("front.pem", 0o644)):
        assert (tls / name).stat().st_mode & 0o777 == mode, name
    assert cfg["http"]["ca_file"] == str(tls / "ca.pem")
    api_token = tomllib.loads((state / "secrets.toml").read_text())["secrets"]["api_token"]
    assert cfg["http"]["headers"] == {"Authorization": f"Bearer {api_token}"}
    text = (state / "sandbox.toml").read_text()
    assert f'ca_file = "{tls / "ca.pem"}"' in text.splitlines()
    assert f'headers = {{ Authorization = "Bearer {api_token}" }}' in text.splitlines()
    assert (state / "sandbox.toml").stat().st_mode & 0o777 == 0o600
    issuer = subprocess.run(["openssl", "x509", "-noout", "-issuer", "-in", str(tls / "front.pem")],
                            capture_output=True, text=True, check=True).stdout
    subject = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in", str(tls / "ca.pem")],
                             capture_output=True, text=True, check=True).stdout
    assert issuer.split("=", 1)[1] == subject.split("=", 1)[1]  # signed by this folder's own CA
    # The upstreams behind nginx stay plain HTTP; the alert inbox is readable without the token.
    assert httpx.get(f"http://{cfg['upstreams']['api_v1']}/healthz", timeout=5).status_code == 200
    assert httpx.get(cfg["alert"]["inbox_url"], timeout=5).status_code == 200


def test_no_secret_in_what_up_and_status_print_or_log(life):
    up = life.run("up")
    assert up.returncode == 0, up.stderr
    secrets = tomllib.loads((Path(life.state) / "secrets.toml").read_text())["secrets"]
    status = life.run("status")
    logs = [p for p in Path(life.state).rglob("*.log") if p.is_file()]
    for secret in secrets.values():
        for text in (up.stdout, up.stderr, status.stdout, status.stderr):
            assert secret not in text
        for log in logs:
            assert secret not in log.read_text(errors="replace"), f"secret in {log}"
    mode = (Path(life.state) / "secrets.toml").stat().st_mode & 0o777
    assert mode == 0o600


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
