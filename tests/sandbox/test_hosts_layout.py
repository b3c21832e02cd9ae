"""`python -m sandbox up --hosts`: the sandbox split over hosts, driven the way a runner would.

A private instance (the "hosts" sandbox of tests/sandbox_ids.py: its own state folder, port block
base+1100..+1109, i.e. 19180-19189 by default, container prefix) is brought up
once per module. The tests reach the front host only as the printed config describes it: over
SSH with its [front] key and known_hosts through [front] proxy_jump (the bastion), the database
and the engine through [front] forward (tunnels on one control master: tests/staging_route.py),
the runbook's scripts through its [commands]. The staging namespace has no route to the runner:
one test proves that a direct connect to its sshd, PostgreSQL or engine fails. They import
nothing from sandbox/.

The bad-input tests run first, against a separate state folder on the same port block while the
module's instance is not up yet: each must fail in one line and start nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import time
import tomllib
from pathlib import Path

import psycopg
import pytest

from helpers.wait import Wait
from tests import target_http
from tests.sandbox.sandbox_cli import Instance
from tests.staging_route import Route, as_root, connect_fails, ssh_argv

pytestmark = pytest.mark.sandbox

HOSTS = Instance.named("hosts")
BAD = Instance.named("hosts-bad")  # the same block: tried first, and must start nothing on it
SSH_PORT = HOSTS.port_base + 5
BLOCK = range(HOSTS.port_base, HOSTS.port_base + 10)
STATUS_OK_TIMEOUT_S = 10


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _containers(prefix: str) -> list[str]:
    cli = shutil.which("podman") or shutil.which("docker")
    out = subprocess.run([cli, "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True).stdout
    return [n for n in out.split() if n.startswith(prefix + "-")]


def _one_line_error(r: subprocess.CompletedProcess) -> str:
    __tracebackhide__ = True
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith("[sandbox]")]
    assert r.returncode != 0, f"expected a failure, got 0: {r.stderr[-1000:]}"
    assert len(lines) == 1 and "Traceback" not in r.stderr, f"expected one error line, got:\n{r.stderr}"
    return lines[0]


# ================================================================================================
# bad input: one line each, nothing left half-started
# ================================================================================================
@pytest.fixture
def bad_instance():
    busy = [p for p in BLOCK if _listening(p)]
    if busy:
        pytest.fail(f"ports {busy} of the test block are in use: is another run of this module up?")
    shutil.rmtree(BAD.state, ignore_errors=True)
    yield BAD
    BAD.run("down", "--purge")
    shutil.rmtree(BAD.state, ignore_errors=True)


def _nothing_started(instance: Instance, allowed: set[int] = frozenset()) -> None:
    __tracebackhide__ = True
    assert _containers(instance.prefix) == []
    assert [p for p in BLOCK if p not in allowed and _listening(p)] == []
    assert not (Path(instance.state) / "pg").exists(), "postgres was initialised"
    assert not (Path(instance.state) / "sandbox.toml").exists()


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _short(prefix: str) -> str:
    """The names' prefix (sandbox/netns.py's rule, written again: interface names stop at 15)."""
    return prefix if len(prefix) + 3 <= 15 else "au" + hashlib.sha256(prefix.encode()).hexdigest()[:8]


def test_a_namespace_left_by_another_instance_is_one_line_and_starts_nothing(bad_instance):
    name = f"{_short(bad_instance.prefix)}-stg"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        r = bad_instance.run("up", "--hosts", timeout=120)
        line = _one_line_error(r)
        assert f"network namespace {name} exists and is not this sandbox's" in line
        _nothing_started(bad_instance)
        assert f"{_short(bad_instance.prefix)}-bst" not in _namespaces()
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_damaged_key_file_is_one_line_and_starts_nothing(bad_instance, tmp_path):
    key = Path(bad_instance.state) / "hosts" / "ssh" / "id_ed25519"
    key.parent.mkdir(parents=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True)
    whole = (tmp_path / "k").read_bytes()
    key.write_bytes(whole[: len(whole) // 2])  # truncated, as a full disk or a bad copy leaves it
    key.chmod(0o600)
    r = bad_instance.run("up", "--hosts", timeout=120)
    line = _one_line_error(r)
    assert str(key) in line and "damaged" in line
    _nothing_started(bad_instance)
    assert key.read_bytes() == whole[: len(whole) // 2], "the damaged key was replaced silently"


# ================================================================================================
# the layout up
# ================================================================================================
class Front:
    """The front host as a runner sees it: the printed config, SSH, the engine over TCP."""

    def __init__(self, path: Path, folder: Path):
        self.path = path
        self.cfg = tomllib.loads(path.read_text())
        self.ssh = ssh_argv(self.cfg["front"], folder)  # through [front] proxy_jump
        self.base = self.cfg["target"]["base_url"]
        self.route = Route(path)  # the database and the engine through [front] forward

    def close(self) -> None:
        self.route.close()

    def sh(self, command: str, check: bool = True, root: bool = True) -> subprocess.CompletedProcess:
        """Run a shell command line on the front: as root under [front] become, or (root=False) as
        the SSH user."""
        line = as_root(self.cfg["front"], command) if root else command
        r = subprocess.run([*self.ssh, "--", line], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        if check:
            assert r.returncode == 0, f"on the front: {command}: {r.stderr}"
        return r

    def sha(self, path: str) -> str:
        return self.sh(f"sha256sum {shlex.quote(path)}").stdout.split()[0]

    def nginx_test(self) -> bool:
        return self.sh(self.cfg["nginx"]["test_cmd"], check=False).returncode == 0

    def command(self, key: str, *args: str) -> subprocess.CompletedProcess:
        """A [commands] entry as the suite runs it: shlex-split, arguments as argv, no shell."""
        argv = shlex.split(self.cfg["commands"][key]) + list(args)
        return subprocess.run(argv, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)

    def status(self) -> dict:
        return target_http.get_json(self.cfg, self.base + "/status")

    def revision(self) -> str:
        with psycopg.connect(self.route.database_url, connect_timeout=3) as conn:
            return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]

    def fingerprint(self) -> dict:
        n = self.cfg["nginx"]
        fp = {key: self.sha(n[key]) for key in ("conf", "backup", "upstream_include")}
        fp["revision"] = self.revision()
        st = self.status()
        fp["version"], fp["pool"] = st["version"], st["pool"]
        return fp


def _up_hosts() -> tuple[subprocess.CompletedProcess, Path]:
    r = HOSTS.run("up", "--hosts", timeout=900)
    assert r.returncode == 0, f"up --hosts failed ({r.returncode}): {r.stderr[-2000:]}"
    path = Path(r.stdout.strip().splitlines()[-1])
    assert path.is_absolute() and path.exists()
    return r, path


@pytest.fixture(scope="module")
def front(tmp_path_factory):
    HOSTS.run("down", "--purge")
    r, path = _up_hosts()
    assert r.stdout.splitlines()[0] == "was-running: no"
    f = Front(path, tmp_path_factory.mktemp("route"))
    yield f
    f.close()
    r = HOSTS.run("down", "--purge", timeout=300)  # a private instance: leave no state folder either
    assert r.returncode == 0, r.stderr[-1000:]


@pytest.fixture
def at_baseline(front):
    """The layout at its baseline before and after the test (restored with `up --hosts`)."""
    baseline = {"conf_is_backup": True, "pool": "api_v1", "version": "v1.0.0", "revision": "0002_customer"}

    def state() -> dict:
        fp = front.fingerprint()
        return {"conf_is_backup": fp["conf"] == fp["backup"], "pool": fp["pool"], "version": fp["version"],
                "revision": fp["revision"]}

    if state() != baseline:
        _up_hosts()
    assert state() == baseline
    yield front
    if state() != baseline:
        _up_hosts()
        assert state() == baseline


def _addresses(cfg: dict) -> tuple[str, str]:
    """(the staging address, the bastion's runner-facing address) the printed config names."""
    staging = cfg["front"]["ssh"].split("@")[1].rpartition(":")[0]
    bastion = cfg["front"]["proxy_jump"].split("@")[1].rpartition(":")[0]
    return staging, bastion


def test_the_ssh_user_is_not_root_owns_no_nginx_file_and_root_has_no_ssh_login(front, tmp_path):
    cfg = front.cfg
    staging, bastion = _addresses(cfg)
    assert front.sh("id -u", root=False).stdout.strip() != "0"
    assert front.sh("id -u").stdout.strip() == "0"  # under [front] become
    for key in ("conf", "backup", "upstream_include"):
        path = shlex.quote(cfg["nginx"][key])
        assert front.sh(f"stat -c '%u %a' {path}", root=False).stdout.split() == ["0", "644"], key
        assert front.sh(f"test -w {path}", root=False, check=False).returncode == 1, f"{key} writable"
    # root is refused by the front's sshd (through the bastion) and by the bastion's own
    as_root_front = ssh_argv({**cfg["front"], "ssh": f"root@{staging}:{SSH_PORT}"}, tmp_path)
    as_root_jump = ssh_argv({**cfg["front"], "proxy_jump": f"root@{bastion}:{HOSTS.port_base + 7}"}, tmp_path)
    for argv in (as_root_front, as_root_jump):
        r = subprocess.run([*argv, "--", "true"], capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        assert r.returncode == 255 and "Permission denied" in r.stderr, (argv, r.stderr)


def test_printed_config_points_at_the_front_through_the_bastion(front):
    cfg = front.cfg
    staging, bastion = _addresses(cfg)
    assert staging.startswith("10.") and bastion.startswith("10.") and staging != bastion
    assert cfg["front"]["ssh"] == f"aura@{staging}:{SSH_PORT}"
    assert cfg["front"]["proxy_jump"] == f"aura@{bastion}:{HOSTS.port_base + 7}"
    assert cfg["front"]["forward"] == ["database", "docker", "upstreams"]
    assert cfg["front"]["become"] == "/usr/bin/sudo -n"
    for key in ("identity_file", "known_hosts"):
        p = Path(cfg["front"][key])
        assert p.is_file() and (p.stat().st_mode & 0o777) == 0o600, f"{p} must be mode 0600"
    known = Path(cfg["front"]["known_hosts"]).read_text()
    assert f"[{staging}]:{SSH_PORT} " in known and f"[{bastion}]:{HOSTS.port_base + 7} " in known
    assert cfg["docker"]["url"] == f"tcp://{staging}:{HOSTS.port_base + 6}"
    assert f"@{staging}:{HOSTS.port_base + 4}/" in cfg["database"]["url"]
    assert cfg["upstreams"] == {"api_v1": f"{staging}:{HOSTS.port_base + 1}",
                                "api_v2": f"{staging}:{HOSTS.port_base + 2}"}
    assert cfg["target"]["base_url"] == f"https://{bastion}:{HOSTS.port_base}"  # the relay
    assert cfg["alert"]["inbox_url"] == f"http://{bastion}:{HOSTS.port_base + 3}/alerts"
    for key in ("conf", "backup", "upstream_include", "error_log"):
        path = cfg["nginx"][key]
        assert not Path(path).exists(), f"[nginx] {key} {path} exists on the runner"
        assert front.sh(f"test -f {shlex.quote(path)}", check=False).returncode == 0, f"{path} not on the front"
    assert front.nginx_test(), "[nginx] test_cmd fails on the front"
    assert front.sh(cfg["nginx"]["reload_cmd"], check=False).returncode == 0
    for key, command in cfg["commands"].items():
        first = shlex.split(command)[0]
        assert Path(first).is_absolute() and os.access(first, os.X_OK), f"[commands] {key}: {first}"
    assert front.status() == {"version": "v1.0.0", "schema_revision": "0002_customer", "pool": "api_v1",
                              "healthy": True}


def test_the_runner_reaches_staging_only_through_the_bastion(front):
    """No route from the runner to the staging namespace: its sshd, PostgreSQL, engine, API
    containers and the front's own HTTPS refuse a direct connect; loopback has none of them; the
    bastion publishes only its sshd and the relay; and it does not forward."""
    staging, bastion = _addresses(front.cfg)
    for port in range(HOSTS.port_base, HOSTS.port_base + 7):
        assert connect_fails(staging, port) is not None, f"the runner reached {staging}:{port} directly"
    assert [p for p in BLOCK if _listening(p)] == [], "a staging service listens on the runner's loopback"
    published = [p for p in BLOCK if connect_fails(bastion, p) is None]
    assert published == [HOSTS.port_base, HOSTS.port_base + 3, HOSTS.port_base + 7]
    rows = {row["component"]: row for row in json.loads(HOSTS.run("status", "--json").stdout)}
    assert "ip_forward 0" in rows["namespaces"]["detail"] and rows["namespaces"]["healthy"]
    # ...and the route the config prints works: the front's own view of its services
    assert front.sh("true").returncode == 0
    assert front.route.upstream_get("api_v1", "/healthz") == 200
    assert front.revision() == "0002_customer"


def test_engine_is_reached_through_the_front(front):
    import docker

    assert front.route.docker_url.startswith("unix://")
    client = docker.DockerClient(base_url=front.route.docker_url, timeout=30)
    try:
        names = {c.name for c in client.containers.list()}
    finally:
        client.close()
    assert set(front.cfg["services"].values()) <= names
    assert f"{HOSTS.prefix}-front" in names


def test_an_unknown_host_key_is_refused(front, tmp_path):
    """Strict host keys: the known_hosts entry is what lets the runner in, not a blind trust."""
    staging, bastion = _addresses(front.cfg)
    real = Path(front.cfg["front"]["known_hosts"]).read_text().splitlines()
    fake_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmJ7EZRPVqXr1Vf+5lT6Ky9lK3n7xkW4HkS9Y6bG2a3"
    for whose, host in (("front", f"[{staging}]:{SSH_PORT}"), ("bastion", f"[{bastion}]:{HOSTS.port_base + 7}")):
        other = tmp_path / f"known_hosts-{whose}"
        other.write_text("".join(f"{host} {fake_key}\n" if line.startswith(host + " ") else line + "\n"
                                 for line in real))
        folder = tmp_path / whose
        folder.mkdir()
        argv = ssh_argv({**front.cfg["front"], "known_hosts": str(other)}, folder)
        r = subprocess.run([*argv, "--", "true"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 255 and "host key" in r.stderr.lower(), (whose, r.stderr)


def test_up_again_changes_nothing_and_keeps_the_keys(front):
    k = front.cfg["front"]
    before = {p: Path(p).read_bytes() for p in (k["identity_file"], k["known_hosts"])}
    container = front.sh("cat /proc/1/stat").stdout.split()[21]  # the front's start time: same process
    t0 = time.monotonic()
    r, path = _up_hosts()
    elapsed = time.monotonic() - t0
    assert path == front.path and "was-running: yes" in r.stdout.splitlines()
    assert {p: Path(p).read_bytes() for p in before} == before
    assert front.sh("cat /proc/1/stat").stdout.split()[21] == container, "the front host was restarted"
    assert "front: started" not in r.stderr and "building" not in r.stderr
    assert elapsed < 60, f"a warm up --hosts took {elapsed:.1f} s"


def test_status_reports_every_component_of_the_layout(front):
    r = HOSTS.run("status", "--json")
    rows = {row["component"]: row for row in json.loads(r.stdout)}
    assert {"postgres", "engine", "namespaces", "engine (tcp)", "bastion", "relay", "api_v1 container",
            "api_v2 container", "front host", "front nginx", "alert receiver", "config"} <= set(rows)
    assert "nginx" not in rows, "the runner-side nginx is not part of this layout"
    assert r.returncode == 0, [row for row in rows.values() if not (row["healthy"] and row["baseline"])]
    text = HOSTS.run("status")
    assert text.returncode == 0 and "front host" in text.stdout


def test_reason_arrives_unchanged_and_is_never_executed(at_baseline, tmp_path):
    front = at_baseline
    marker = f"/tmp/aura-pwned-{os.getpid()}"
    reason = (f'drill "quoted" \'single\' and spaces\n'
              f'second line 演练 ✓ $(touch {marker}) `touch {marker}` ; touch {marker}')
    r = front.command("rollback", "--type", "upstream", "--reason", reason, "--yes")
    assert r.returncode == 0, r.stderr
    audit = front.sh("cat /etc/aura-front/rollback-audit.log").stdout.splitlines()
    assert f"reason={json.dumps(reason, ensure_ascii=False)}" in audit[-1]
    assert front.sh(f"test -e {marker}", check=False).returncode == 1, "the reason was executed on the front"
    assert not Path(marker).exists(), "the reason was executed on the runner"


def test_wrapper_passes_the_exit_status_through(front):
    r = front.command("rollback", "--type", "bogus", "--reason", "x", "--yes")
    assert r.returncode == 2 and "unknown --type" in r.stderr
    wrapper = shlex.split(front.cfg["commands"]["rollback"])[0]
    r = subprocess.run([wrapper, "sh", "-c", "echo out; echo err >&2; exit 7"], capture_output=True, text=True,
                       timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (7, "out\n", "err\n")


def _front_runs(front: Front, *argv: str) -> bool:
    """Is a process with exactly this argv running on the front?"""
    probe = ("import os, sys\n"
             "want = [a.encode() for a in sys.argv[1:]]\n"
             "print(any(open(f'/proc/{p}/cmdline', 'rb').read().split(b'\\0')[:-1] == want\n"
             "          for p in os.listdir('/proc') if p.isdigit()))")
    r = front.sh(f"python3 -c {shlex.quote(probe)} " + " ".join(shlex.quote(a) for a in argv))
    return r.stdout.strip() == "True"


@pytest.mark.parametrize("how", ["the wrapper alone", "its process group"])
def test_ending_the_wrapper_ends_the_command_on_the_front(front, how):
    """The suite ends a timed-out command's process group: the command on the front must end too."""
    wrapper = shlex.split(front.cfg["commands"]["rollback"])[0]
    seconds = str(3000 + os.getpid() % 500 + (1 if how == "the wrapper alone" else 0))
    proc = subprocess.Popen([wrapper, "sleep", seconds], start_new_session=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        Wait("the command to start on the front", 15, 0.2).poll(lambda: _front_runs(front, "sleep", seconds))
        assert _front_runs(front, "sleep", seconds), "the command never started on the front"
        if how == "the wrapper alone":
            proc.terminate()
        else:
            os.killpg(proc.pid, 15)
        assert proc.wait(timeout=20) in (143, -15, 255)
        Wait("the command on the front to end", 10, 0.2).poll(lambda: not _front_runs(front, "sleep", seconds))
        assert not _front_runs(front, "sleep", seconds), "the command outlived the runner's side"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)


def _fault(front: Front, kind: str) -> None:
    """Inject a fault by the runner's own means (SSH, the engine, the migrate command)."""
    if kind in ("upstream", "full"):
        r = front.command("switch_upstream", "--target", "api_v2")
        assert r.returncode == 0, r.stderr
        assert front.status()["pool"] == "api_v2"
    if kind in ("image", "full"):
        import docker

        client = docker.DockerClient(base_url=front.route.docker_url, timeout=30)
        try:  # api_v1 recreated on another release, as a bad deploy would leave it
            old = client.containers.get(front.cfg["services"]["api_v1"])
            env = old.attrs["Config"]["Env"]
            old.stop(timeout=3)
            old.remove()
            client.containers.run(f"{front.cfg['docker']['image']}:v1.1.0", detach=True, name=old.name,
                                  network_mode="host", environment=env, labels=old.labels)
        finally:
            client.close()
    if kind in ("database",):
        r = front.command("migrate", front.cfg["database"]["bad_revision"])
        assert r.returncode == 0, r.stderr
        assert front.revision() == front.cfg["database"]["bad_revision"]
    if kind in ("nginx", "full"):  # last: switching the upstream runs `nginx -t` first
        front.sh(f"echo invalid_config >> {front.cfg['nginx']['conf']}")
        assert not front.nginx_test()


@pytest.mark.parametrize("kind", ["image", "nginx", "database", "upstream", "full"])
def test_each_rollback_type_through_the_printed_commands(at_baseline, kind):
    front = at_baseline
    before = front.fingerprint()
    runner_files = {p: hashlib.sha256(p.read_bytes()).hexdigest()
                    for p in Path(HOSTS.state).rglob("*") if p.is_file() and p.suffix in (".conf", ".toml")}
    _fault(front, kind)
    if kind in ("nginx", "full"):
        assert front.sha(front.cfg["nginx"]["conf"]) != before["conf"]
    args = ["--tag", "stable"] if kind == "full" else []
    r = front.command("rollback", "--type", kind, *args, "--reason", f"hosts layout {kind} drill", "--yes")
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-1500:]
    Wait("the front back at its fingerprint", STATUS_OK_TIMEOUT_S, 0.2).poll(lambda: front.fingerprint() == before)
    assert front.fingerprint() == before
    assert front.nginx_test()
    # The front's files changed (and changed back) on the front only: nothing of the runner's moved.
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in runner_files} == runner_files
    v = front.command("verify", "--api-url", front.base, "--expect-version", "v1.0.0")
    assert v.returncode == 0, v.stdout[-1000:]


def test_the_drill_lock_holds_this_layout_too(front):
    name = front.cfg["target"]["name"]
    with psycopg.connect(front.route.database_url, application_name="aura-drill 1@test 00:00:00Z image",
                         autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtextextended('aura-drill:' || %s, 0))", (name,))
        r = HOSTS.run("up", "--hosts")
        assert r.returncode == 0 and "changing nothing" in r.stderr
        d = HOSTS.run("down")
        assert d.returncode != 0 and "aura-drill 1@test" in d.stderr
    assert front.sh("true").returncode == 0


def test_switching_to_the_single_host_layout_and_back(front, tmp_path):
    front.close()  # its tunnels' far ends go away with the switch
    r = HOSTS.run("up", timeout=600)
    assert r.returncode == 0, r.stderr[-1500:]
    single = tomllib.loads(Path(r.stdout.strip().splitlines()[-1]).read_text())
    assert "front" not in single and Path(single["nginx"]["conf"]).is_file()
    assert not _listening(SSH_PORT) and not _listening(HOSTS.port_base + 6)
    assert sorted(_containers(HOSTS.prefix)) == sorted(single["services"].values())
    assert not (Path(HOSTS.state) / "hosts").exists(), "the hosts layout's keys were left behind"
    assert not {f"{_short(HOSTS.prefix)}-bst", f"{_short(HOSTS.prefix)}-stg"} & _namespaces()
    assert HOSTS.run("status").returncode == 0
    _, path = _up_hosts()
    again = Front(path, tmp_path)
    assert again.cfg["front"]["ssh"] == front.cfg["front"]["ssh"]
    assert again.status()["pool"] == "api_v1" and again.nginx_test() and again.revision() == "0002_customer"
    front.cfg, front.ssh, front.route = again.cfg, again.ssh, again.route  # new keys: the old ones went


def test_down_leaves_no_container_listener_or_key(front):
    front.close()
    r = HOSTS.run("down", timeout=300)
    assert r.returncode == 0, r.stderr[-1000:]
    assert _containers(HOSTS.prefix) == []
    assert not {f"{_short(HOSTS.prefix)}-bst", f"{_short(HOSTS.prefix)}-stg"} & _namespaces()
    staging, _ = _addresses(front.cfg)
    # nothing of ours left running inside a namespace that is gone (the TCP engine, the relay)
    leftover = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if f"tcp:{staging}:" in argv or ("sandbox.relay" in argv and HOSTS.state in argv):
                leftover.append(argv.replace("\0", " "))
    assert leftover == []
    assert staging not in subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True,
                                         text=True).stdout.replace(staging.rsplit(".", 1)[0] + ".0/24", "")
    assert [p for p in BLOCK if _listening(p)] == []
    assert not (Path(HOSTS.state) / "hosts").exists()
    assert not Path(front.cfg["front"]["identity_file"]).exists()
    assert HOSTS.run("status").returncode == 1
