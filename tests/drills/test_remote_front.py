"""The suite against a staging on other hosts: `python -m sandbox up --hosts` and its printed config.

A private hosts-layout instance (own state folder, ports and container prefix) is brought up for
this module and purged at its end. Every run is the real suite as a subprocess with a complete
copy of the printed config (only [probe] made fast, or the key a test is about changed). The
front's files are read here with the OpenSSH client, the printed keys and the bastion
([front] proxy_jump), independently of the suite's own transport.

The printed config reaches the staging the only way the runner can: SSH through the bastion
(`proxy_jump`), the database, the engine and the upstreams' checks through tunnels on that
connection (`forward`), and the front's files and commands under `become` (its SSH user owns no
nginx file). So every run here goes through all three, and a tunnel that dies mid-run is here too.
"""
from __future__ import annotations

import http.server
import json
import os
import shlex
import signal
import ssl
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import httpx
import pytest

from tests.drills.suite_runner import (
    FAST,
    PROJECT,
    drills_command,
    executable,
    fresh_reports_dir,
    run_suite,
    toml_value,
    wait_for_log,
)
from tests.procfs import process_alive
from tests.sandbox_ids import extra
from tests.staging_route import Route, as_root, ssh_argv

pytestmark = pytest.mark.e2e

IDENTITY = extra("remote")  # tests/sandbox_ids.py: derived from the run's AURA_SANDBOX_*
ENV = IDENTITY.env()
UNUSED_PORT = IDENTITY.port_base + 8  # in the instance's block, never listened on (README: +8, +9 are unused)


def sandbox(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=PROJECT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **ENV})


@pytest.fixture(scope="module")
def hosts() -> dict:
    """The hosts layout, up for this module; its printed config, parsed. Purged at the end."""
    r = sandbox("up", "--hosts")
    assert r.returncode == 0, r.stderr[-3000:]
    path = r.stdout.strip().splitlines()[-1]
    try:
        yield {**tomllib.loads(Path(path).read_text()), "__path__": path}
    finally:
        sandbox("down", "--purge", timeout=300)


def dump_toml(data: dict) -> str:
    lines = []
    for section, table in data.items():
        lines.append(f"[{section}]")
        lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def full_config(hosts: dict, tmp_path: Path, name: str = "drill.toml", **sections: dict) -> str:
    """A complete copy of the printed config with [probe] fast and `sections` changed key by key
    (a key given as None is dropped)."""
    data = {s: dict(t) for s, t in hosts.items() if s != "__path__"}
    for section, keys in {**FAST, **sections}.items():
        data.setdefault(section, {}).update(keys)
        data[section] = {k: v for k, v in data[section].items() if v is not None}
    path = tmp_path / name
    path.write_text(dump_toml(data))
    return str(path)


def on_front(hosts: dict, command: str) -> subprocess.CompletedProcess:
    """`command` (a shell line) on the front host with the OpenSSH client, the printed keys and
    the printed jump host."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        argv = [*ssh_argv(hosts["front"], Path(folder)), "--", as_root(hosts["front"], command)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def staging(hosts: dict) -> str:
    return hosts["front"]["ssh"].split("@")[1].rpartition(":")[0]


def front_hashes(hosts: dict) -> dict[str, str]:
    n = hosts["nginx"]
    paths = [n["conf"], n["backup"], n["upstream_include"]]
    r = on_front(hosts, "sha256sum " + " ".join(shlex.quote(p) for p in paths))
    assert r.returncode == 0, r.stderr
    return {line.split()[1]: line.split()[0] for line in r.stdout.splitlines()}


def test_the_seven_drills_pass_over_ssh_and_nothing_of_the_front_is_read_locally(hosts, tmp_path):
    n = hosts["nginx"]
    for key in ("conf", "backup", "upstream_include", "error_log"):
        assert not Path(n[key]).exists(), f"[nginx] {key} {n[key]} exists on the runner"
        assert not Path(n[key]).parent.exists(), n[key]
    before = front_hashes(hosts)
    run = run_suite("--drill-config", full_config(hosts, tmp_path))
    assert run.exit_code == 0, run.output[-4000:]
    drills = run.results["drills"]
    assert sorted(d["type"] for d in drills) == ["database", "emergency", "full", "image", "nginx", "nginx",
                                                 "upstream"]
    for d in drills:
        assert d["status"] == "passed" and d["restored"] is True, d
        assert d["fault"]["observed"] in ("visible", "latent") and d["rto_actual_s"] is not None, d
        assert d["rpo_acknowledged"] >= 5 and d["rpo_lost_writes"] == 0, d
    # the nginx drills' fault and rollback really went through the front's files
    assert "nginx -t fails on the live config" in run.output
    assert front_hashes(hosts) == before
    report = (run.reports / "drill-report.html").read_text()
    assert hosts["front"]["ssh"] in report  # the environment table names the front host


@pytest.mark.parametrize("case, expected", [
    ("unknown host key", "[front] known_hosts: "),
    # behind the bastion, a front port that answers nothing is the hop's to report (one line, the key)
    ("unreachable port", "refused to forward to the front host {staging}:" f"{UNUSED_PORT} "),
    ("path missing on the front", "[nginx] upstream_include: /etc/aura-front/nope.conf does not exist on the "
                                  "front host aura@{staging}:" f"{IDENTITY.port_base + 5}"),
    ("front command missing", "[nginx] reload_cmd: /usr/sbin/nginx-nope is not an executable file on the front host"),
    # the SSH user owns none of the nginx files: without become, refused before the first write
    ("no become", "[nginx] conf: /etc/aura-front/nginx.staging.conf is not writable on the front host "
                  "aura@{staging}:" f"{IDENTITY.port_base + 5} for its SSH user: set [front] become "
                  '(e.g. "/usr/bin/sudo -n")'),
])
def test_a_bad_front_is_one_line_naming_the_key_before_anything_is_touched(hosts, tmp_path, case, expected):
    before = front_hashes(hosts)
    front = dict(hosts["front"])
    nginx = {}
    expected = expected.replace("{staging}", staging(hosts))
    if case == "unknown host key":  # the bastion's key kept: the front's is the one missing
        other = tmp_path / "known_hosts"
        other.write_text("".join(line + "\n" for line in Path(front["known_hosts"]).read_text().splitlines()
                                 if not line.startswith(f"[{staging(hosts)}]:")))
        front["known_hosts"] = str(other)
    elif case == "unreachable port":
        front["ssh"] = f"{front['ssh'].split('@')[0]}@{staging(hosts)}:{UNUSED_PORT}"
    elif case == "no become":
        front["become"] = None
    elif case == "path missing on the front":
        nginx["upstream_include"] = "/etc/aura-front/nope.conf"
    else:
        nginx["reload_cmd"] = "/usr/sbin/nginx-nope -s reload"
    run = run_suite("--drill-config", full_config(hosts, tmp_path, front=front, nginx=nginx), "-k", "upstream")
    assert run.exit_code == 4, run.output[-3000:]
    assert expected in run.output, run.output[-3000:]
    if case == "unreachable port":
        assert f"[front] proxy_jump: the jump host {hosts['front']['proxy_jump']}: " in run.output
    assert run.results["drills"] == []
    assert front_hashes(hosts) == before


def test_a_symlinked_nginx_config_stays_a_link_through_a_drill_and_its_target_is_restored(hosts, tmp_path):
    """A release-versioned config behind a link (nginx.conf -> nginx.conf.v7), as many hosts
    have: the fault, the rollback and the restore write the target, never the link."""
    conf = hosts["nginx"]["conf"]
    versioned = conf + ".v7"
    before = front_hashes(hosts)
    q, v = shlex.quote(conf), shlex.quote(versioned)
    made = on_front(hosts, f"cp -p {q} {v} && ln -sf {v} {q}")
    assert made.returncode == 0, made.stderr
    try:
        run = run_suite("--drill-config", full_config(hosts, tmp_path), "-k", "invalid_config")
        d = run.drill("invalid_config")
        assert d["status"] == "passed" and d["restored"] is True, run.output[-3000:]
        link = on_front(hosts, f"stat -c %F {q} && readlink {q} && stat -c '%u %a' {v}")
        assert link.stdout.splitlines() == ["symbolic link", versioned, "0 644"], link.stdout + link.stderr
        assert front_hashes(hosts) == before  # sha256sum reads through the link: the target's bytes
    finally:  # the front as it was: the plain file back, the versioned one gone
        put_back = on_front(hosts, f"if [ -L {q} ]; then cp --remove-destination {v} {q}; fi; rm -f {v}")
        assert put_back.returncode == 0, put_back.stderr
    assert front_hashes(hosts) == before


def test_a_rollback_that_does_nothing_on_the_front_fails_and_the_front_is_restored(hosts, tmp_path):
    before = front_hashes(hosts)
    rollback = executable(tmp_path / "rollback", 'echo "nginx: rolled back"\nexit 0\n')
    run = run_suite("--drill-config", full_config(hosts, tmp_path, commands={"rollback": rollback},
                                                  rto={"nginx": 2}), "-k", "invalid_config")
    d = run.drill("invalid_config")
    assert d["fault"]["observed"] == "latent"
    assert d["status"] == "failed" and d["rto_actual_s"] is None and d["command_exit"] == 0
    assert "nginx config restored and nginx -t passes never restored" in d["problems"][0], d["problems"]
    assert d["restored"] is True
    assert front_hashes(hosts) == before


def test_a_rollback_that_exits_non_zero_over_the_wrapper_fails_with_its_exit_code(hosts, tmp_path):
    real = hosts["commands"]["rollback"]
    body = f'{real} "$@" >/dev/null 2>&1\necho "rollback: engine unreachable" >&2\nexit 3\n'
    rollback = executable(tmp_path / "rollback", body)
    run = run_suite("--drill-config", full_config(hosts, tmp_path, commands={"rollback": rollback},
                                                  rto={"nginx": 10}), "-k", "breaks_serving")
    d = run.drill("breaks_serving")
    assert d["status"] == "failed" and d["command_exit"] == 3
    assert d["problems"][0] == "rollback exited 3: rollback: engine unreachable"
    assert d["restored"] is True


def test_a_rollback_that_relapses_on_the_front_fails(hosts, tmp_path):
    real, switch = hosts["commands"]["rollback"], hosts["commands"]["switch_upstream"]
    body = (f'{real} "$@" || exit $?\nsleep 1.2\n{switch} --target api_v2 >/dev/null\nsleep 0.5\n'
            f'{switch} --target api_v1 >/dev/null\nexit 0\n')
    rollback = executable(tmp_path / "rollback", body)
    run = run_suite("--drill-config", full_config(hosts, tmp_path, commands={"rollback": rollback}), "-k", "upstream")
    d = run.drill("upstream")
    assert d["status"] == "failed" and d["restored"] is True, d
    assert any("did not hold" in p or "relapse" in p.lower() for p in d["problems"]), d["problems"]


def test_a_sabotaged_restore_is_an_error_and_the_next_run_recovers_from_the_journal(hosts, tmp_path):
    before = front_hashes(hosts)
    real, migrate = hosts["commands"]["rollback"], hosts["commands"]["migrate"]
    wrapper = real.split()[0]
    backup = hosts["nginx"]["backup"]
    # The rollback heals the upstream, then changes the front's nginx backup and moves the schema
    # down; the restore's migrate is sabotaged, so the restore cannot finish (the backup file it
    # does put back, over SSH).
    body = (f'{real} "$@" || exit $?\n'
            f"{wrapper} /bin/sh -c 'echo \"# sabotage\" >> {backup}'\n"
            f'exec {migrate} 0001_base >/dev/null 2>&1\n')
    sabotaged = full_config(hosts, tmp_path, "sabotaged.toml",
                            commands={"rollback": executable(tmp_path / "rollback", body),
                                      "migrate": executable(tmp_path / "migrate", "echo unavailable >&2\nexit 1\n")})
    run = run_suite("--drill-config", sabotaged, "-k", "upstream")
    d = run.drill("upstream")
    assert d["status"] == "error" and d["restored"] is False, d
    assert any(p.startswith("restore failed: db_revision: 0002_customer -> 0001_base") for p in d["problems"])
    assert front_hashes(hosts)[backup] == before[backup]  # put back over SSH despite the failure

    # The next run with the real config restores from the pending journal (its migrate, its
    # copies of the front's files) before anything else.
    again = run_suite("--drill-config", full_config(hosts, tmp_path), "-k", "upstream")
    assert again.exit_code == 0, again.output[-3000:]
    assert "restored from the journal" in (again.reports / "rollback-drill.log").read_text()
    assert front_hashes(hosts) == before


# -- [front] forward: a tunnel that dies mid-run ------------------------------------------------

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
    with subprocess.Popen(drills_command("--drill-config", full_config(hosts, tmp_path), "-k",
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
    again = run_suite("--drill-config", full_config(hosts, tmp_path), "-k", "upstream")
    assert again.exit_code == 0, again.output[-3000:]


# -- [rpo]: another request shape, and none ----------------------------------------------------

class ShopFront(http.server.ThreadingHTTPServer):
    """A tiny API in front of the staging's: `POST /shop/purchases {"item", "quantity", "meta"}`
    stores an order with SQL and answers `{"order_no": id}`; anything else is passed to the real
    front. `lose = True` acknowledges without storing (an API that loses writes)."""

    def __init__(self, upstream: str, database_url: str, ca_file: str, lose: bool = False):
        self.upstream, self.database_url, self.lose = upstream, database_url, lose
        self.verify = ssl.create_default_context(cafile=ca_file)  # the staging's front: its own CA
        self.paths: list[str] = []
        self.posted: list[tuple[str, bytes]] = []   # (path, body) of every POST
        self.next_fake = 10_000_000
        super().__init__(("127.0.0.1", 0), _ShopHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ShopHandler(http.server.BaseHTTPRequestHandler):
    server: ShopFront

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _proxy(self, method: str, data: bytes | None = None) -> None:
        try:
            passed = {"Content-Type": self.headers.get("Content-Type", "application/json")}
            if self.headers.get("Authorization"):  # the suite's [http] headers, on to the real front
                passed["Authorization"] = self.headers["Authorization"]
            r = httpx.request(method, self.server.upstream + self.path, content=data, timeout=5,
                              headers=passed, verify=self.server.verify)
        except httpx.HTTPError:
            return self._send(502, b"{}")
        self._send(r.status_code, r.content, r.headers.get("content-type", "text/plain"))

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        self._proxy("GET")

    def do_POST(self) -> None:
        self.server.paths.append(self.path)
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.posted.append((self.path, data))
        if self.path != "/shop/purchases":
            return self._proxy("POST", data)
        try:
            body = json.loads(data)
        except ValueError:  # the suite's credentials check posts an empty body: refused, nothing stored
            return self._send(400, b'{"error": "body must be JSON"}')
        if self.server.lose:
            self.server.next_fake += 1
            return self._send(200, json.dumps({"order_no": self.server.next_fake}).encode())
        import psycopg

        try:
            with psycopg.connect(self.server.database_url, connect_timeout=3) as conn:
                order = conn.execute("INSERT INTO orders (item, quantity) VALUES (%s, %s) RETURNING id",
                                     (body["item"], body["quantity"])).fetchone()[0]
        except psycopg.Error:
            return self._send(503, b'{"error": "database"}')
        self._send(200, json.dumps({"purchase": {"state": "accepted"}, "order_no": order}).encode())


@pytest.fixture(scope="module")
def route(hosts):
    """The printed config's database, reached as the suite reaches it (through the front)."""
    r = Route(hosts["__path__"])
    yield r
    r.close()


@pytest.fixture
def shop(hosts, route):
    servers = []

    def make(lose: bool = False) -> ShopFront:
        server = ShopFront(hosts["target"]["base_url"], route.database_url, hosts["http"]["ca_file"], lose)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server
    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


SHOP_RPO = {"path": "/shop/purchases", "id_field": "order_no",
            "body": '{"item": "shop-{run}-{n}", "quantity": {n}, "meta": {"channel": "drill"}}'}


def runner_verify(tmp_path: Path) -> dict:
    """[commands] verify run on the runner: the shop API lives here, where the front (in the
    staging namespace, no route to the runner) cannot reach it; the front's verify would fail."""
    script = executable(tmp_path / "verify-shop", 'while [ $# -gt 0 ]; do case "$1" in --api-url) url=$2; '
                        'shift 2;; *) shift;; esac; done\nexec curl -fsS -o /dev/null "$url/healthz"\n')
    return {"verify": script}


def test_rpo_with_another_request_shape_is_measured(hosts, tmp_path, shop):
    server = shop()
    cfg = full_config(hosts, tmp_path, target={"api_url": server.url}, rpo=SHOP_RPO, commands=runner_verify(tmp_path))
    run = run_suite("--drill-config", cfg, "-k", "upstream")
    d = run.drill("upstream")
    assert d["status"] == "passed", d["problems"]
    assert d["rpo_acknowledged"] >= 5 and d["rpo_lost_writes"] == 0
    # The credentials check before the lock posts an empty body to the writer's path (it asks
    # whether the token is taken, and writes nothing); every other post there is the writer's.
    posts = [b for p, b in server.posted if p == "/shop/purchases"]
    shop_posts = [json.loads(b) for b in posts if b]
    assert len(posts) - len(shop_posts) <= 1
    assert len(shop_posts) >= d["rpo_acknowledged"]
    assert all(b["item"].startswith("shop-") and b["meta"] == {"channel": "drill"} for b in shop_posts)
    # the default shape never came: whatever else was posted (verify's own order) is not the writer's
    assert not [b for p, b in server.posted if p == "/api/orders" and b"drill-" in b]


def test_rpo_with_another_request_shape_catches_lost_writes(hosts, tmp_path, shop):
    server = shop(lose=True)
    cfg = full_config(hosts, tmp_path, target={"api_url": server.url}, rpo=SHOP_RPO,
                      commands=runner_verify(tmp_path))
    run = run_suite("--drill-config", cfg, "-k", "upstream")
    d = run.drill("upstream")
    assert d["status"] == "failed"
    assert d["rpo_lost_writes"] == d["rpo_acknowledged"] >= 5
    assert any(p.startswith(f"RPO: {d['rpo_acknowledged']} of {d['rpo_acknowledged']} acknowledged writes lost")
               for p in d["problems"]), d["problems"]


def test_rpo_disabled_is_not_measured_never_zero_lost(hosts, tmp_path):
    run = run_suite("--drill-config", full_config(hosts, tmp_path, rpo={"enabled": False}), "-k", "upstream")
    d = run.drill("upstream")
    assert d["status"] == "passed", d["problems"]
    assert d["rpo_acknowledged"] is None and d["rpo_lost_writes"] is None
    assert "RPO not measured" in (run.reports / "drill-report.html").read_text()
