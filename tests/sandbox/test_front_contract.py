"""One contract for both fronts: the local one and the SSH one answer the same cases the same way.

The SSH front is the hosts layout's (`python -m sandbox up --hosts`, a private instance of this
run's sandbox identity, purged at the end), reached as its printed config says: `[front] ssh`,
its identity file and its known_hosts. Each case runs in a fresh folder on that front's own
filesystem (made and removed through the front itself), and in tmp_path for the local one:
files, folders and commands, each missing and present.
"""
from __future__ import annotations

import hashlib
import shlex
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.config import FrontSection
from helpers.front import Front, FrontError, LocalFront, PathCheck, SshFront, open_front
from tests.sandbox.sandbox_cli import Instance

pytestmark = pytest.mark.sandbox

# A private hosts-layout instance beside this run's own sandbox (tests/sandbox_ids.py names it).
HOSTS = Instance.named("front-contract")
TIMEOUT_S = 15


@pytest.fixture(scope="module")
def hosts_config() -> Iterator[dict]:
    """The hosts layout, up for this module; its printed config, parsed. Purged at the end."""
    r = HOSTS.run("up", "--hosts", timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    try:
        yield tomllib.loads(Path(r.stdout.strip().splitlines()[-1]).read_text())
    finally:
        HOSTS.run("down", "--purge", timeout=300)


@dataclass
class Workspace:
    front: Front
    folder: str       # an empty folder of the front's own, for this case

    def path(self, name: str) -> str:
        return f"{self.folder}/{name}"


@pytest.fixture(params=["local", "ssh"])
def workspace(request, tmp_path: Path) -> Iterator[Workspace]:
    if request.param == "local":
        front: Front = LocalFront()
        folder = str(tmp_path / "front")
    else:
        spec = request.getfixturevalue("hosts_config")["front"]
        # as the printed config has it: under [front] become (the SSH user owns no nginx file)
        front = open_front(FrontSection(ssh=spec["ssh"], identity_file=Path(spec["identity_file"]),
                                        known_hosts=Path(spec["known_hosts"]), proxy_jump=spec["proxy_jump"],
                                        become=spec["become"]))
        assert isinstance(front, SshFront)
        folder = f"/tmp/aura-front-contract-{uuid.uuid4().hex[:12]}"
    front.connect()
    try:
        made = front.run(f"/bin/mkdir -p {shlex.quote(folder)}", timeout=TIMEOUT_S)
        assert made.ok, made.stderr
        yield Workspace(front, folder)
        front.run(f"/bin/rm -rf {shlex.quote(folder)}", timeout=TIMEOUT_S)
    finally:
        front.close()


def test_both_fronts_implement_the_protocol(workspace: Workspace):
    assert isinstance(workspace.front, Front)
    assert workspace.front.connect() is workspace.front  # connect again: the open one is kept


def test_a_missing_file(workspace: Workspace):
    front, missing = workspace.front, workspace.path("nope.conf")
    assert not front.exists(missing)
    assert front.sha256(missing) is None
    with pytest.raises(FileNotFoundError):
        front.read_bytes(missing)
    assert front.tail(missing, 5).startswith("(no error log: ")
    assert front.remove(missing) is False


def test_a_present_file_is_written_read_hashed_copied_and_tailed(workspace: Workspace):
    front, conf, copy = workspace.front, workspace.path("nginx.conf"), workspace.path("nginx.conf.backup")
    text = "events {}\n# ünïcode and 'quotes' and $(not run)\nline 3\n"
    front.write_bytes(conf, text.encode())
    assert front.exists(conf)
    assert front.read_text(conf) == text
    assert front.sha256(conf) == "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    assert front.tail(conf, 2) == "# ünïcode and 'quotes' and $(not run)\nline 3\n"
    front.copy(conf, copy)
    assert front.read_bytes(copy) == text.encode()
    assert front.remove(copy) is True
    assert not front.exists(copy) and front.exists(conf)


def test_a_rewrite_keeps_the_files_mode(workspace: Workspace):
    front, conf = workspace.front, workspace.path("modes.conf")
    front.write_bytes(conf, b"one\n")
    assert front.run(f"/bin/chmod 0640 {shlex.quote(conf)}", timeout=TIMEOUT_S).ok
    front.write_bytes(conf, b"two\n")
    mode = front.run(f"/usr/bin/stat -c %a {shlex.quote(conf)}", timeout=TIMEOUT_S)
    assert mode.ok and mode.stdout.strip() == "640"
    assert front.read_bytes(conf) == b"two\n"


def test_a_write_through_a_symlink_keeps_the_link_and_fills_its_target(workspace: Workspace):
    front, versioned, link = workspace.front, workspace.path("nginx.conf.v7"), workspace.path("linked.conf")
    front.write_bytes(versioned, b"events {}\n")
    made = front.run(f"/bin/ln -s {shlex.quote(versioned)} {shlex.quote(link)}", timeout=TIMEOUT_S)
    assert made.ok, made.stderr
    front.write_bytes(link, b"faulted\n")
    kind = front.run(f"/usr/bin/stat -c %F {shlex.quote(link)}", timeout=TIMEOUT_S)  # argv on the local front
    points_to = front.run(f"/bin/readlink {shlex.quote(link)}", timeout=TIMEOUT_S)
    assert kind.ok and kind.stdout.strip() == "symbolic link"
    assert points_to.ok and points_to.stdout.strip() == versioned
    assert front.read_bytes(versioned) == b"faulted\n" and front.read_bytes(link) == b"faulted\n"


def test_commands_exit_status_and_output(workspace: Workspace):
    front = workspace.front
    ok = front.run("/bin/echo hello", timeout=TIMEOUT_S)
    assert ok.ok and ok.exit_code == 0 and ok.stdout == "hello\n"
    failing = front.run("/bin/sh -c 'echo oops >&2; exit 3'", timeout=TIMEOUT_S)
    assert not failing.ok and failing.exit_code == 3 and "oops" in failing.stderr


def test_state_is_the_digest_and_the_test_commands_verdict(workspace: Workspace):
    front, conf = workspace.front, workspace.path("state.conf")
    assert front.state(conf, "/bin/true", TIMEOUT_S) == (None, True)
    front.write_bytes(conf, b"x\n")
    digest = front.sha256(conf)
    assert front.state(conf, "/bin/true", TIMEOUT_S) == (digest, True)
    assert front.state(conf, "/bin/false", TIMEOUT_S) == (digest, False)
    assert front.state(conf, "/bin/true", TIMEOUT_S, want="sha256:other") == (digest, False)
    assert front.state(conf, "/bin/true", TIMEOUT_S, want=digest) == (digest, True)


def test_path_checks_of_files_folders_and_commands_missing_or_present(workspace: Workspace):
    front, w = workspace.front, workspace
    front.write_bytes(w.path("present.conf"), b"x\n")
    front.write_bytes(w.path("not-executable.sh"), b"#!/bin/sh\n")
    checks = [
        PathCheck("[nginx] conf", w.path("present.conf"), "file"),
        PathCheck("[nginx] upstream_include", w.path("missing.conf"), "file"),
        PathCheck("[nginx] upstream_include", w.folder, "file"),                      # a folder is not a file
        PathCheck("[nginx] backup", w.path("present.conf.backup"), "dir"),            # its folder exists
        PathCheck("[nginx] error_log", w.path("no-such-dir/error.log"), "dir"),
        PathCheck("[nginx] test_cmd", "/bin/sh -c 'exit 0'", "cmd"),
        PathCheck("[nginx] reload_cmd", w.path("not-executable.sh") + " -s reload", "cmd"),
        PathCheck("[nginx] reload_cmd", w.path("missing-nginx") + " -s reload", "cmd"),
    ]
    on = "" if isinstance(front, LocalFront) else f" on the front host {front.where}"
    assert front.path_problems(checks) == [
        f"[nginx] upstream_include: {w.path('missing.conf')} does not exist{on}",
        f"[nginx] upstream_include: {w.folder} does not exist{on}",
        f"[nginx] error_log: directory {w.path('no-such-dir')} does not exist{on}",
        f"[nginx] reload_cmd: {w.path('not-executable.sh')} is not an executable file{on}",
        f"[nginx] reload_cmd: {w.path('missing-nginx')} is not an executable file{on}",
    ]
    assert front.path_problems(checks[:1]) == []


def test_testinfra_sees_the_fronts_files(workspace: Workspace):
    front = workspace.front
    front.write_bytes(workspace.path("seen.conf"), b"seen\n")
    host = front.testinfra_host()
    assert host.file(workspace.path("seen.conf")).content_string == "seen\n"
    assert not host.file(workspace.path("unseen.conf")).exists


def test_an_unreachable_ssh_front_is_one_line_naming_the_key(tmp_path: Path):
    known = tmp_path / "known_hosts"
    known.write_text("")
    front = SshFront(FrontSection(ssh=f"root@127.0.0.1:{HOSTS.port_base + 9}", known_hosts=known), connect_timeout_s=1)
    try:
        with pytest.raises(FrontError) as e:
            front.connect()
    finally:
        front.close()
    assert str(e.value).startswith(f"[front] ssh: root@127.0.0.1:{HOSTS.port_base + 9} unreachable")
    assert "\n" not in str(e.value)


# -- the route: a jump host, the team's ssh_config -----------------------------------------------
# The hosts layout's front is behind its bastion (the printed [front] proxy_jump): the front's
# connection goes through `ssh -W` on it. A known_hosts without the bastion's line makes it a hop
# with an unknown key.

def _front(spec: dict, **route) -> SshFront:
    route.setdefault("proxy_jump", spec["proxy_jump"])
    return SshFront(FrontSection(ssh=spec["ssh"], identity_file=Path(spec["identity_file"]),
                                 known_hosts=Path(spec["known_hosts"]), **route))


def _children_argv(pid: int) -> list[list[str]]:
    """The command lines of `pid`'s child processes (procfs)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found.append(Path(f"/proc/{child}/cmdline").read_bytes().decode().split("\0"))
    return found


def test_a_front_behind_a_jump_host_is_reached_through_it(hosts_config, tmp_path):
    # The jump hop is the layout's bastion, in a network namespace of its own: the front's
    # address has no route from here, so only the hop gets there.
    spec = dict(hosts_config["front"])
    front = _front(spec)
    try:
        front.connect()
        assert front.master is not None
        hops = [argv for argv in _children_argv(front.master.pid) if "-W" in argv]
        assert len(hops) == 1, _children_argv(front.master.pid)   # the jump hop: ssh -W front
        assert "-F" in hops[0] and str(front.config_file) in hops[0]  # it reads the forced block
        said = front.run("echo through-the-jump-host", timeout=TIMEOUT_S)
        assert said.ok and said.stdout.strip() == "through-the-jump-host"
    finally:
        front.close()


def test_a_jump_host_whose_key_is_not_known_is_one_line_naming_the_hop(hosts_config, tmp_path):
    spec = dict(hosts_config["front"])
    jump = spec["proxy_jump"]
    jump_host = "[{}]:{}".format(*jump.split("@")[1].rsplit(":", 1))
    known = tmp_path / "known_hosts"
    known.write_text("".join(line + "\n" for line in Path(spec["known_hosts"]).read_text().splitlines()
                             if not line.startswith(jump_host + " ")))
    spec["known_hosts"] = str(known)
    front = _front(spec)
    try:
        with pytest.raises(FrontError) as refused:
            front.connect()
    finally:
        front.close()
    line = str(refused.value)
    assert line.startswith(f"[front] proxy_jump: the jump host {jump}: ") and "\n" not in line
    assert "has no host key for it" in line


def test_the_teams_ssh_config_is_followed_and_cannot_loosen_the_forced_options(hosts_config, tmp_path):
    spec = hosts_config["front"]
    user, _, hostport = spec["ssh"].rpartition("@")
    host, _, port = hostport.rpartition(":")
    team = tmp_path / "team_ssh_config"
    # the team's file names the bastion too (its own ProxyJump: the route is the team's to write)
    team.write_text(f"Host staging-front\n    HostName {host}\n    Port {port}\n    ProxyJump {spec['proxy_jump']}\n"
                    "Host *\n    StrictHostKeyChecking no\n    UserKnownHostsFile /dev/null\n")
    front = SshFront(FrontSection(ssh=f"{user}@staging-front", identity_file=Path(spec["identity_file"]),
                                  known_hosts=Path(spec["known_hosts"]), ssh_config=team))
    try:
        said = front.run("echo by-the-teams-name", timeout=TIMEOUT_S)
        assert said.ok and said.stdout.strip() == "by-the-teams-name"   # HostName and Port from the team
    finally:
        front.close()
    # with an empty known_hosts, the team's "StrictHostKeyChecking no" must not let it through
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    strict = SshFront(FrontSection(ssh=f"{user}@staging-front", identity_file=Path(spec["identity_file"]),
                                   known_hosts=empty, ssh_config=team))
    try:  # the first hop it cannot trust is the bastion
        with pytest.raises(FrontError, match=r"^\[front\] (known_hosts|proxy_jump): "):
            strict.connect()
    finally:
        strict.close()
