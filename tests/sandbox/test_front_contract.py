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
        front = open_front(FrontSection(ssh=spec["ssh"], identity_file=Path(spec["identity_file"]),
                                        known_hosts=Path(spec["known_hosts"])))
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
