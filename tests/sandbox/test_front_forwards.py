"""`[front] forward` against the hosts layout's real sshd: the Target's database, engine and the
upstreams' health checks go through unix sockets opened on the one control master.

A private hosts-layout instance (tests/sandbox_ids.py "forward") is brought up for this module and
purged at its end. Its printed config sets `[front] forward = ["database", "docker",
"upstreams"]` itself; the addresses stay as the front host sees them: in the staging namespace,
which has no route to the runner, so only the tunnels reach them (and when the tunnel dies,
nothing does).
"""
from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
import tomllib
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from fixtures.target import TargetError, open_adapters
from helpers import front as fronts
from helpers.config import TargetConfig, load_config
from helpers.engine_api import DockerRuntimeError
from helpers.front import SshFront
from helpers.run_lock import LockLost, RunLock
from tests.drills.suite_runner import (
    PROJECT,
    drills_command,
    fresh_reports_dir,
    reports_snapshot,
    toml_file,
)
from tests.sandbox.sandbox_cli import Instance
from tests.staging_route import connect_fails, ssh_argv

pytestmark = pytest.mark.sandbox

HOSTS = Instance.named("forward")
ALL = ["database", "docker", "upstreams"]
CLOSED_PORT = HOSTS.port_base + 8  # in the instance's block, never listened on in staging (README: +8, +9 unused)


@pytest.fixture(scope="module")
def hosts() -> Iterator[dict]:
    """The hosts layout, up for this module; its printed config, parsed. Purged at the end."""
    r = HOSTS.run("up", "--hosts", timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    try:
        yield tomllib.loads(Path(r.stdout.strip().splitlines()[-1]).read_text())
    finally:
        HOSTS.run("down", "--purge", timeout=300)


def forwarded(hosts: dict, tmp_path: Path, name: str = "forwarded.toml", **sections: dict) -> Path:
    """A complete copy of the printed config with `[front] forward` (all three) and `sections`."""
    data = {s: dict(t) for s, t in hosts.items()}
    data["front"]["forward"] = ALL
    for section, keys in sections.items():
        data.setdefault(section, {}).update(keys)
    return toml_file(tmp_path / name, data)


@pytest.fixture
def opened(hosts, tmp_path) -> Iterator[tuple[TargetConfig, SshFront, ExitStack, tuple]]:
    """The Target's adapters as resolve_target opens them: the front connected, then open_adapters."""
    cfg = load_config(forwarded(hosts, tmp_path))
    with ExitStack() as owned:
        front = owned.enter_context(closing(fronts.open_front(cfg.front)))
        assert isinstance(front, SshFront)
        assert fronts.unreachable(front, cfg.nginx) == []
        yield cfg, front, owned, open_adapters(cfg, front, owned)


def _pg_port(hosts: dict) -> int:
    return int(psycopg.conninfo.conninfo_to_dict(hosts["database"]["url"])["port"])


def test_the_database_the_lock_the_engine_and_the_upstreams_go_through_the_sockets(hosts, opened):
    cfg, front, owned, (reached, database, engine, http) = opened
    folder = front.folder
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    expected = {f".s.PGSQL.{_pg_port(hosts)}", "docker.sock", "upstream-api_v1.sock", "upstream-api_v2.sock"}
    present = {name for name in os.listdir(folder) if stat.S_ISSOCK(os.lstat(os.path.join(folder, name)).st_mode)}
    assert expected <= present, present

    # the database: libpq connects to the folder, the server answers through the tunnel
    with database.connect() as conn:
        assert (conn.info.host, conn.info.port) == (folder, _pg_port(hosts))
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert database.revision() is not None
    lock = RunLock(reached.database.url, f"forward-test-{os.getpid()}")
    lock.acquire()
    owned.callback(lock.release)
    lock.set_activity("image")  # the lock's session is alive through the tunnel
    password = cfg.database.password
    assert password and not any(password in p.read_text(errors="replace")
                                for p in Path(folder).iterdir() if p.is_file())  # ssh's own log

    # the engine: unix://<folder>/docker.sock, answering a ping through it
    assert engine.url == f"unix://{folder}/docker.sock"
    engine.ping(5)

    # the upstreams: the run's HTTP to an upstream's address goes through its socket
    api_v1 = hosts["upstreams"]["api_v1"]
    assert http.get(f"http://{api_v1}/healthz", timeout=5).status_code == 200
    assert reached.upstreams == cfg.upstreams  # the addresses the include names are kept

    # The tunnel dies (the control master is killed): every one of them stops answering, and the
    # runner has no other way there (no route to the staging namespace).
    assert front.master is not None
    front.master.kill()
    front.master.wait(5)
    host, _, port = api_v1.rpartition(":")
    assert connect_fails(host, int(port)) is not None  # directly: never
    with pytest.raises(httpx.TransportError):
        http.get(f"http://{api_v1}/healthz", timeout=5)
    with pytest.raises(DockerRuntimeError):
        engine.ping(5)
    with pytest.raises(LockLost, match=r"the run lock was lost \(its database session ended"):
        lock.set_activity("nginx")
    with pytest.raises(psycopg.OperationalError):
        database.revision()

    # The next front operation replaces the master with its forwards: a restore under way reaches
    # its endpoints again (the lock stays lost: the run stops before its next drill).
    assert front.exists(str(cfg.nginx.conf))
    assert http.get(f"http://{api_v1}/healthz", timeout=5).status_code == 200
    assert database.revision() is not None
    engine.ping(5)
    with pytest.raises(LockLost):
        lock.set_activity("full")
    lock.release()  # the run's teardown: a lost lock has nothing left to unlock, and says so
    assert lock.lost and not lock.held


def _staging(hosts: dict) -> str:
    return hosts["front"]["ssh"].split("@")[1].rpartition(":")[0]


def _refusals(hosts: dict, tmp_path: Path) -> list[TargetError]:
    found = []
    for i, sections in enumerate([{"database": {"url": re.sub(r":\d+/", f":{CLOSED_PORT}/", hosts["database"]["url"])}},
                                  {"docker": {"url": f"tcp://{_staging(hosts)}:{CLOSED_PORT}"}}]):
        cfg = load_config(forwarded(hosts, tmp_path, f"closed-{i}.toml", **sections))
        with ExitStack() as owned:
            front = owned.enter_context(closing(fronts.open_front(cfg.front)))
            assert fronts.unreachable(front, cfg.nginx) == []
            with pytest.raises(TargetError) as e:
                open_adapters(cfg, front, owned)
            found.append(e.value)
    return found


def test_a_forward_to_a_closed_port_is_one_line_naming_the_endpoint(hosts, tmp_path):
    database, docker = _refusals(hosts, tmp_path)
    password = urlsplit(hosts["database"]["url"]).password
    assert password and not any(password in str(e) for e in (database, docker))
    route = re.escape(f"through {hosts['front']['ssh']}")
    for endpoint, refused in (("database", database), ("docker", docker)):
        assert re.fullmatch(rf"drill target unreachable: \[front\] forward {endpoint}: "
                            rf"{re.escape(_staging(hosts))}:{CLOSED_PORT} "
                            rf"{route}: the front host did not connect to it \(ssh: .+\)", str(refused)), str(refused)


def test_a_run_whose_forward_cannot_open_exits_4_with_one_line_and_touches_nothing(hosts, tmp_path):
    """The whole suite: refused before the lock, the reports folder and the front's files as they were."""
    closed = re.sub(r":\d+/", f":{CLOSED_PORT}/", hosts["database"]["url"])
    config = forwarded(hosts, tmp_path, database={"url": closed})
    n = hosts["nginx"]
    files = [n["conf"], n["upstream_include"], n["backup"]]
    before = _front_hashes(hosts, files, tmp_path)
    reports = fresh_reports_dir()
    (reports / "keep.txt").write_text("an earlier run's\n")
    kept = reports_snapshot(reports)
    r = subprocess.run(drills_command("--drill-config", str(config), reports=reports), cwd=PROJECT,
                       capture_output=True, text=True, timeout=300)
    lines = [line for line in (r.stdout + r.stderr).splitlines() if "[front] forward" in line]
    assert r.returncode == 4, r.stdout[-2000:] + r.stderr[-2000:]
    assert len(lines) == 1 and f"[front] forward database: {_staging(hosts)}:{CLOSED_PORT} through " in lines[0], lines
    password = urlsplit(hosts["database"]["url"]).password
    assert password and password not in r.stdout + r.stderr
    assert reports_snapshot(reports) == kept
    assert _front_hashes(hosts, files, tmp_path) == before


def _front_hashes(hosts: dict, paths: list[str], folder: Path) -> str:
    """sha256sum of `paths` on the front host, read with the OpenSSH client, the printed keys and
    the bastion (independently of the suite's transport)."""
    r = subprocess.run([*ssh_argv(hosts["front"], folder), "--", "sha256sum", *paths],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


# An engine that the front host serves on a unix socket (a real host's /var/run/docker.sock): the
# staging's own engine, relayed on the front from a socket this test makes there to its TCP
# address. The parent prints the relay's pid once the socket is bound (no race with the forward),
# and the child serves in a session of its own, outliving the SSH command that started it.
UNIX_ENGINE_RELAY = r"""
import os, socket, sys, threading
path, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
server = socket.socket(socket.AF_UNIX)
server.bind(path)
server.listen(8)
child = os.fork()
if child:
    print(child)
    sys.exit(0)
os.setsid()
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
def pump(src, dst):
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        return  # either side went away: this direction is over
    finally:
        dst.close()
while True:
    client, _ = server.accept()
    upstream = socket.create_connection((host, port))
    for a, b in ((client, upstream), (upstream, client)):
        threading.Thread(target=pump, args=(a, b), daemon=True).start()
"""


def test_an_engine_on_a_unix_socket_of_the_front_is_forwarded_to_its_path(hosts, tmp_path):
    engine_url = urlsplit(hosts["docker"]["url"])
    far = f"/tmp/aura-test-engine-{os.getpid()}.sock"
    ssh = ssh_argv(hosts["front"], tmp_path)
    # as the SSH user, not under become: sshd opens a stream-local forward as the user logged in
    started = subprocess.run([*ssh, "--", shlex.join(["python3", "-c", UNIX_ENGINE_RELAY, far,
                                                      str(engine_url.hostname), str(engine_url.port)])],
                             capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert started.returncode == 0 and started.stdout.strip().isdigit(), started.stderr
    relay = started.stdout.strip()
    try:
        cfg = load_config(forwarded(hosts, tmp_path, "unix-engine.toml", docker={"url": f"unix://{far}"}))
        with ExitStack() as owned:
            front = owned.enter_context(closing(fronts.open_front(cfg.front)))
            assert isinstance(front, SshFront)
            reached, _database, engine, _http = open_adapters(cfg, front, owned)
            assert engine.url == f"unix://{front.folder}/docker.sock" and reached.docker.url == engine.url
            assert stat.S_ISSOCK(os.lstat(f"{front.folder}/docker.sock").st_mode)
            engine.ping(5)  # the front's socket answered through the tunnel
    finally:
        stopped = subprocess.run([*ssh, "--", f"kill {relay}; rm -f {shlex.quote(far)}"],
                                 capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert stopped.returncode == 0, stopped.stderr
