"""The front host over SSH (`[front] ssh = "user@host:port"`): the OpenSSH client with a control
master — one SSH connection for the target's life, opened by `connect()` when the run resolves
its target and closed by `close()` at its end; every operation is one `ssh -o ControlPath=…`
multiplexed over it (a session channel, one round trip, no new handshake).

Why OpenSSH and not paramiko: the project's lock file has no paramiko (and the venv is shared, so
nothing is installed into it); the OpenSSH client is already a requirement of the hosts layout
(its `front-run` wrapper), it reads `known_hosts` exactly as sshd's operators expect (hashed
names, `[host]:port` entries, `@cert-authority`/`@revoked` markers), and testinfra's `ssh://`
backend can reuse the same control socket, so the host checks ride the same connection and the
same strict host-key policy. Options are fixed, in an ssh_config the run writes and passes with
`-F` (helpers/front/ssh_config.py; the runner's own ssh config plays no part): for every host and
hop `StrictHostKeyChecking yes` with `UserKnownHostsFile = [front] known_hosts` and no global
file, `BatchMode yes` (never a prompt), `IdentitiesOnly yes` with `[front] identity_file`; then
the front with `[front] proxy_jump`, and `[front] ssh_config` (the team's route) included after.

`[front] become` (say `/usr/bin/sudo -n`) runs the suite's remote scripts and the config's command
lines under it, for an SSH user that does not own the nginx files.

On the front host the suite needs a POSIX `sh`, `cat`, `cp`, `mv`, `tail`, `readlink -f` and
`sha256sum` (coreutils). Commands from the config (`test_cmd`, `reload_cmd`, the start fallback) are command
lines for the front and are handed to its shell as they are; the suite quotes only what it
writes into its own small scripts (paths, with `shlex.quote`). A file is written atomically there:
copied aside with its mode and owner (`cp -p`), filled, then renamed over the original; through a
symlink, the file it points to is written, so the link stays a link.

The per-poll state check (`state`) is one round trip: the config's sha256 and `test_cmd`'s exit
status from one remote script.

`[front] forward` (helpers/front/forwards.py) opens its tunnels on the same master: `forward()`
is one `ssh -O forward -L SOCKET:far`, each socket in this connection's own 0700 folder, and
`reach()` asks the front host to connect to a far end once, so that a closed port is found before
the run takes its lock. A master that dies is replaced at the next operation with its forwards.

What the transport cost is counted (`SshFront.stats`: the connection's set-up, the number of
operations and their time); with `AURA_FRONT_STATS=FILE` in the environment each connection
appends those as one JSON line to FILE when it closes (bench/bench_drills.py --hosts reads it).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpers import commands
from helpers.commands import CommandResult
from helpers.front.protocol import FrontError, PathCheck, PathLike, first_problem_per_key, path_problem
from helpers.front.ssh_config import FRONT_ALIAS, Route, port_given
from helpers.redact import one_line
from helpers.wait import Wait

if TYPE_CHECKING:
    from helpers.config.models import FrontSection

__all__ = ["SshFront"]

SSH = shutil.which("ssh") or "/usr/bin/ssh"   # the OpenSSH client (./aura installs openssh-client)
CONNECT_TIMEOUT_S = 5
FILE_TIMEOUT_S = 15          # one file operation on the front, at the most


def _set_pdeathsig() -> None:  # pragma: no cover - runs in the child before exec
    """The control master ends with the run's process even when that one is SIGKILLed."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # no glibc prctl (not Linux): the master then ends at close() only; a child cannot report


_NAMED_HOST = (
    re.compile(r"host key is known for (\S+?) and"),            # strict checking, no key for it
    re.compile(r"host key for (\S+?) has changed", re.I),
    re.compile(r"(?:^|\s)[^\s@]+@(\S+?): permission denied", re.I | re.M),
    re.compile(r"connect to host (\S+) port (\d+)"),
    re.compile(r"could not resolve hostname (\S+?):", re.I),
)


def _names(host: str, port: int) -> set[str]:
    return {host.lower(), f"[{host.lower()}]:{port}", f"{host.lower()}:{port}"}


def _jump_hop_named(text: str, front: SshFront) -> str | None:
    """The `[front] proxy_jump` hop ssh's message is about ("user@host:port"), or None when it is
    about the front itself (or names no host). A hop that shares the front's name and port is the
    front: the message cannot tell them apart."""
    hops = front.route.hops()
    if not hops:
        return None
    for pattern in _NAMED_HOST:
        m = pattern.search(text)
        if m is None:
            continue
        named = {m.group(1).lower()} if m.lastindex == 1 else _names(m.group(1), int(m.group(2)))
        if named & (_names(front.host, front.port) | {FRONT_ALIAS}):
            return None
        for user, host, port in hops:
            if named & _names(host, port):
                return f"{user}@{host}:{port}" if user else f"{host}:{port}"
    if "stdio forwarding failed" in text.lower() or "administratively prohibited" in text.lower():
        user, host, port = hops[-1]
        return f"{user}@{host}:{port}" if user else f"{host}:{port}"
    return None


def _classify(stderr: str, front: SshFront) -> str:
    """One line naming the [front] key behind an SSH failure, and the hop when it is a jump host
    (ssh's own words kept at the end)."""
    text = " ".join(stderr.split())
    said = one_line(stderr.strip().splitlines()[-1] if stderr.strip() else "ssh exited 255", limit=200)
    low = text.lower()
    hop = _jump_hop_named(stderr, front)
    if hop is not None:
        jump = f"[front] proxy_jump: the jump host {hop}"
        if "host key" in low and "changed" in low:
            return f"{jump}: its host key does not match {front.known_hosts} (strict host key checking; ssh: {said})"
        if "host key verification failed" in low or "host key is known" in low:
            return f"{jump}: {front.known_hosts} has no host key for it (strict host key checking; ssh: {said})"
        if "permission denied" in low:
            return (f"{jump}: refused the key {front.identity_file or '(none given)'} "
                    f"([front] identity_file; ssh: {said})")
        if "stdio forwarding failed" in low or "administratively prohibited" in low:
            return (f"{jump}: refused to forward to the front host {front.host}:{front.port} "
                    f"(ssh: {said})")
        return f"{jump}: unreachable (ssh: {said})"
    if "remote host identification has changed" in low or ("host key for" in low and "has changed" in low):
        return (f"[front] known_hosts: the host key of {front.hostport} does not match "
                f"{front.known_hosts} (strict host key checking; ssh: {said})")
    if "host key verification failed" in low or "no matching host key" in low or "is not known" in low:
        return (f"[front] known_hosts: {front.known_hosts} has no host key for {front.hostport} "
                f"(strict host key checking; ssh: {said})")
    if "permission denied" in low or "too many authentication failures" in low:
        return (f"[front] identity_file: {front.identity_file or '(none given)'} not accepted by "
                f"{front.dest}:{front.port} (ssh: {said})")
    if "load key" in low or "invalid format" in low or "bad permissions" in low:
        return f"[front] identity_file: {front.identity_file} unusable (ssh: {said})"
    return f"[front] ssh: {front.dest}:{front.port} unreachable (ssh: {said})"


class SshFront:
    """The front host over one OpenSSH control master (see the module's docstring)."""

    def __init__(self, spec: FrontSection, *, connect_timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        user, host, port = spec.parts()
        self.user, self.host, self.port = user, host, port
        self.spec_ssh = spec.ssh
        self.dest = f"{user}@{host}" if user else host
        self.hostport = f"[{host}]:{port}" if port != 22 else host
        self.where = f"{self.dest}:{port}"
        self.identity_file = str(spec.identity_file) if spec.identity_file else None
        self.known_hosts = str(spec.known_hosts)
        self.connect_timeout_s = connect_timeout_s
        self.become = shlex.split(spec.become) if spec.become else []
        self.route = Route(user=user, host=host, port=port, port_given=port_given(spec.ssh or ""),
                           known_hosts=Path(self.known_hosts),
                           identity_file=Path(self.identity_file) if self.identity_file else None,
                           proxy_jump=spec.proxy_jump, ssh_config=spec.ssh_config,
                           connect_timeout_s=int(max(1, connect_timeout_s)))
        self._dir = tempfile.mkdtemp(prefix="aura-ssh-")  # short: a socket path has ~100 bytes
        self.control_path = os.path.join(self._dir, "m")
        self.config_file = self.route.write(self._dir)
        self._stderr = open(os.path.join(self._dir, "master.err"), "w+b")  # noqa: SIM115
        self.master: subprocess.Popen | None = None
        self._lock = threading.Lock()
        # [front] forward: socket -> far end, opened on this master; a master that died and was
        # replaced (`_alive`) gets them again, so a restore under way still reaches its endpoints
        self._forwards: dict[str, str] = {}
        self._forwards_on: subprocess.Popen | None = None
        self._forward_lock = threading.Lock()
        # for bench_drills (AURA_FRONT_STATS); forwards_s: opening [front] forward, also in operations_s
        self.stats = {"connect_s": 0.0, "operations": 0, "operations_s": 0.0, "forwards_s": 0.0}

    def _count(self, started: float) -> None:
        with self._lock:
            self.stats["operations"] += 1
            self.stats["operations_s"] += time.monotonic() - started

    # the options every ssh of this run shares
    def options(self) -> list[str]:
        return list(self.route.command_line(self.config_file, self.control_path))

    def connect(self) -> SshFront:
        """Open the run's connection (the control master); FrontError naming the key if not."""
        with self._lock:
            if self.master is not None and self.master.poll() is None:
                return self
            started = time.monotonic()
            self._stderr.seek(0)
            self._stderr.truncate()
            # a master that was killed leaves its socket behind
            Path(self.control_path).unlink(missing_ok=True)
            # Its own session: a Ctrl-C meant for the run must not cut the connection its restore
            # still needs; it ends with the run's process anyway (PR_SET_PDEATHSIG) or at close().
            self.master = subprocess.Popen(
                [SSH, *self.options(), "-o", "ControlMaster=yes", "-o", "ControlPersist=no",
                 "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4", "-N", self.route.destination],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr,
                preexec_fn=_set_pdeathsig, start_new_session=True)
            session = Wait(f"an SSH session to {self.dest}:{self.port}", self.connect_timeout_s + 5, 0.01)
            for _ in session.rounds():
                if self.master.poll() is not None:
                    self._stderr.seek(0)
                    err = self._stderr.read().decode("utf-8", "replace")
                    self.master = None
                    raise FrontError(_classify(err, self))
                if os.path.exists(self.control_path):
                    self.stats["connect_s"] += time.monotonic() - started
                    return self
            self._stop_master()
            raise FrontError(f"[front] ssh: {self.dest}:{self.port} unreachable "
                             f"(no SSH session within {self.connect_timeout_s + 5:g}s)")

    def _argv(self, remote: str) -> list[str]:
        return [SSH, *self.options(), "-o", "ControlMaster=no", self.route.destination, "--", remote]

    def _script(self, script: str, *args: PathLike) -> str:
        """A remote command line: `sh -c SCRIPT sh ARG...`, each part quoted for the remote shell,
        under `[front] become` when set."""
        return " ".join(shlex.quote(str(a)) for a in (*self.become, "sh", "-c", script, "sh", *args))

    def _command(self, command: str) -> str:
        """A command line of the config for the front's shell, as it is, or under `become`."""
        return self._script(command) if self.become else command

    def _refused(self, what: str, path: PathLike, stderr: bytes) -> OSError:
        """The one line a failed file operation becomes; a permission problem names `become`."""
        said = one_line(stderr.decode("utf-8", "replace"))
        hint = ""
        if "permission denied" in said.lower() or "operation not permitted" in said.lower():
            hint = (" (the SSH user may not write there: set [front] become, e.g. \"/usr/bin/sudo -n\")"
                    if not self.become else f" (even under [front] become = {shlex.join(self.become)!r})")
        return OSError(f"{self.where}: cannot {what} {path}: {said}{hint}")

    def _alive(self) -> None:
        """The connection is up, or is opened again (a master that died is replaced, with the
        forwards it carried)."""
        if self.master is None or self.master.poll() is not None:
            self.connect()
        if self._forwards and self._forwards_on is not self.master:
            with self._forward_lock:
                if self._forwards_on is not self.master:
                    for socket_path, far in self._forwards.items():
                        self._open_forward(socket_path, far)
                    self._forwards_on = self.master

    def _call(self, remote: str, *, data: bytes | None = None, timeout: float = FILE_TIMEOUT_S
              ) -> subprocess.CompletedProcess:
        self._alive()
        started = time.monotonic()
        try:
            r = subprocess.run(self._argv(remote), input=data if data is not None else b"",
                               capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise FrontError(f"[front] ssh: {self.where}: no answer within {timeout:g}s") from None
        finally:
            self._count(started)
        if r.returncode == 255:
            raise FrontError(_classify(r.stderr.decode("utf-8", "replace"), self))
        return r

    # forwards ([front] forward; helpers/front/forwards.py says what each endpoint becomes)
    @property
    def folder(self) -> str:
        """The run's own folder (mkdtemp: 0700, short): the control socket, and each forward's."""
        return self._dir

    def forward(self, socket_path: str, far: str) -> None:
        """`-L socket_path:far` on the run's control master (`far`: host:port, or /path of a unix
        socket on the front's side); FrontError with ssh's reason if the master refuses."""
        self._alive()
        with self._forward_lock:
            self._open_forward(socket_path, far)
            self._forwards[socket_path] = far
            self._forwards_on = self.master

    def _open_forward(self, socket_path: str, far: str) -> None:
        # The master binds the socket with its own options: StreamLocalBindUnlink given here does
        # not reach it, so a socket a dead master left behind is removed first (the folder is ours).
        Path(socket_path).unlink(missing_ok=True)
        started = time.monotonic()
        try:
            r = subprocess.run([SSH, *self.options(), "-o", "StreamLocalBindUnlink=yes", "-O", "forward",
                                "-L", f"{socket_path}:{far}", self.dest],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=FILE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise FrontError(f"ssh -O forward: no answer within {FILE_TIMEOUT_S:g}s") from None
        finally:
            self._count(started)
        if r.returncode != 0:
            said = r.stderr.decode("utf-8", "replace").strip().splitlines()
            raise FrontError(one_line(f"ssh: {said[-1] if said else f'exit {r.returncode}'}", limit=300))

    def reach(self, far: str, timeout_s: float) -> str | None:
        """None when the front host reaches `far` for us; else ssh's reason, one line.

        A forward only binds the runner's socket: the front host connects to `far` when a client
        connects, and a refusal then closes that client without a word. So the far end is asked
        once here: a TCP endpoint with `ssh -W host:port` on the master (the same channel a
        forward opens; stdin is empty, so the far server sees the connection close at once), a
        unix socket by `[ -S path ]` on the front. A channel still open when `timeout_s` ends is
        taken as opened (a server that keeps a half-closed connection)."""
        self._alive()
        if far.startswith("/"):
            r = self._call(self._script('[ -S "$1" ]', far))
            return None if r.returncode == 0 else f"no unix socket {far} on the front host"
        started = time.monotonic()
        try:
            r = subprocess.run([SSH, *self.options(), "-o", "ControlMaster=no", "-W", far, self.dest],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None
        finally:
            self._count(started)
        if r.returncode == 0:
            return None
        # The master hears sshd's reason ("connect failed: Connection refused") but logs it below
        # LogLevel=ERROR; its mux client says only that the channel was refused.
        said = r.stderr.decode("utf-8", "replace").strip().splitlines()
        return one_line(f"the front host did not connect to it (ssh: {said[-1] if said else f'exit {r.returncode}'})",
                        limit=300)

    # files
    def read_text(self, path: PathLike) -> str:
        return self.read_bytes(path).decode("utf-8")

    def read_bytes(self, path: PathLike) -> bytes:
        r = self._call(self._script('[ -e "$1" ] || exit 3; exec cat -- "$1"', path))
        if r.returncode == 3:
            raise FileNotFoundError(2, f"No such file on {self.where}", str(path))
        if r.returncode != 0:
            raise OSError(f"{self.where}: cannot read {path}: {one_line(r.stderr.decode('utf-8', 'replace'))}")
        return r.stdout

    def sha256(self, path: PathLike) -> str | None:
        r = self._call(self._script('[ -e "$1" ] || exit 3; h=$(sha256sum < "$1") || exit 1; '
                                    'echo "${h%% *}"', path))
        if r.returncode == 3:
            return None
        if r.returncode != 0:
            raise OSError(f"{self.where}: cannot hash {path}: {one_line(r.stderr.decode('utf-8', 'replace'))}")
        return "sha256:" + r.stdout.decode().strip()

    def exists(self, path: PathLike) -> bool:
        return self._call(self._script('[ -e "$1" ]', path)).returncode == 0

    def write_bytes(self, path: PathLike, data: bytes) -> None:
        # Through a symlink to its target (the link stays a link), keeping mode and owner
        # (`cp -p` of the live file, then refilled), and atomic (renamed over the target).
        r = self._call(self._script('set -e; f=$(readlink -f -- "$1"); t="$f.aura-drill.tmp"; rm -f -- "$t"; '
                                    'if [ -e "$f" ]; then cp -p -- "$f" "$t"; fi; '
                                    'cat > "$t"; mv -f -- "$t" "$f"', path), data=data)
        if r.returncode != 0:
            raise self._refused("write", path, r.stderr)

    def copy(self, src: PathLike, dst: PathLike) -> None:
        r = self._call(self._script('cp -- "$1" "$2"', src, dst))
        if r.returncode != 0:
            raise self._refused(f"copy {src} to", dst, r.stderr)

    def remove(self, path: PathLike) -> bool:
        r = self._call(self._script('[ -e "$1" ] || exit 3; exec rm -f -- "$1"', path))
        if r.returncode not in (0, 3):
            raise self._refused("remove", path, r.stderr)
        return r.returncode == 0

    def tail(self, path: PathLike, lines: int) -> str:
        try:
            r = self._call(self._script('exec tail -n "$2" -- "$1"', path, str(int(lines))))
        except FrontError as e:
            return f"(no error log: {e})"
        if r.returncode != 0:
            return f"(no error log: {self.where}: {one_line(r.stderr.decode('utf-8', 'replace'))})"
        return r.stdout.decode("utf-8", "replace")

    # commands
    def run(self, command: str, timeout: float) -> CommandResult:
        self._alive()
        # The config's command line goes to the front's shell as it is (README: test_cmd and
        # reload_cmd are command lines for the front host).
        started = time.monotonic()
        with commands.RunningCommand(self._argv(self._command(command))) as running:
            result = running.wait(timeout)
        self._count(started)
        if result.exit_code == 255:
            return CommandResult(result.argv, 255, result.stdout,
                                 result.stderr + "\n" + _classify(result.stderr, self),
                                 result.started, result.ended, result.timed_out)
        return result

    def state(self, conf: PathLike, test_cmd: str, timeout: float,
              want: str | None = None) -> tuple[str | None, bool]:
        script = ('h=$(sha256sum < "$1" 2>/dev/null) && h="sha256:${h%% *}" || h=missing; echo "$h"; '
                  '[ -z "$2" ] || [ "$h" = "$2" ] || { echo "test skipped"; exit 0; }; '
                  + test_cmd + ' </dev/null >/dev/null 2>&1; echo "test $?"')
        r = self._call(self._script(script, conf, want or ""), timeout=timeout)
        lines = r.stdout.decode("utf-8", "replace").split()
        digest = lines[0] if lines and lines[0].startswith("sha256:") else None
        ok = len(lines) >= 3 and lines[-2] == "test" and lines[-1] == "0"
        return digest, ok

    def path_problems(self, checks: Sequence[PathCheck]) -> list[str]:
        # One round trip: the script prints the index of each check that fails.
        parts = []
        for i, c in enumerate(checks):
            n = i + 1
            if c.kind == "file":
                parts.append(f'[ -f "${{{n}}}" ] || echo "{i}"')
            elif c.kind == "dir":
                parts.append(f'[ -d "$(dirname -- "${{{n}}}")" ] || echo "{i}"')
            elif c.kind == "write":  # as write_bytes writes: the symlink's target, a file renamed into its folder
                parts.append(f'f=$(readlink -f -- "${{{n}}}"); [ -w "$(dirname -- "$f")" ] && '
                             f'{{ [ ! -e "$f" ] || [ -w "$f" ]; }} || echo "{i}"')
            else:
                parts.append(f'[ -f "${{{n}}}" ] && [ -x "${{{n}}}" ] || echo "{i}"')
        args: list[str] = []
        for c in checks:
            path = shlex.split(c.path)[0] if c.kind == "cmd" else c.path
            args.append(path)
        r = self._call(self._script("; ".join(parts) or ":", *args))
        bad = {int(x) for x in r.stdout.decode().split() if x.isdigit()}
        on = f" on the front host {self.where}"
        whose = (f" even under [front] become = {shlex.join(self.become)!r}" if self.become else
                 " for its SSH user: set [front] become (e.g. \"/usr/bin/sudo -n\")")
        return first_problem_per_key([(c, path_problem(c, args[i], on, whose)) for i, c in enumerate(checks)
                                      if i in bad])

    def testinfra_host(self) -> Any:
        """testinfra's `ssh://` backend over this run's control master, with the same options
        (strict host keys from `[front] known_hosts`; `ControlMaster=no`: it never opens its own)."""
        import testinfra

        extra = " ".join(shlex.quote(o) for o in self.options()) + " -o ControlMaster=no"
        return testinfra.get_host(f"ssh://{self.route.destination}", ssh_extra_args=extra, timeout=int(FILE_TIMEOUT_S))

    def checks_host_of(self, url: str) -> bool:
        return True  # the front host is the one that serves [target] base_url

    def sees_listener(self, address: str) -> bool:
        """A pool on another host than the front is not the front's to check (its container
        check covers it); loopback and the front's own name are."""
        return address in (self.host, "127.0.0.1", "localhost", "::1")

    def environment_rows(self) -> dict[str, str]:
        rows = {"Front host": one_line(f"{self.spec_ssh} (SSH, host key from {self.known_hosts})")}
        far_ends = sorted(set(self.forwards().values()))
        if far_ends:  # the report says which endpoints the run reached through the front
            rows["Through the front host"] = one_line(", ".join(far_ends) + " ([front] forward: SSH tunnels)")
        return rows

    def forwards(self) -> dict[str, str]:
        """The forwards this front opened: socket -> far end."""
        with self._forward_lock:
            return dict(self._forwards)

    def _stop_master(self) -> None:
        master, self.master = self.master, None
        if master is not None and master.poll() is None:
            master.terminate()
            try:
                master.wait(5)
            except subprocess.TimeoutExpired:
                master.kill()
                master.wait()

    def close(self) -> None:
        with self._lock:
            self._stop_master()
            self._stderr.close()
            shutil.rmtree(self._dir, ignore_errors=True)
        stats_file = os.environ.get("AURA_FRONT_STATS")
        if stats_file and self.stats["connect_s"]:
            try:
                with open(stats_file, "a", encoding="utf-8") as f:
                    f.write(json.dumps({"front": self.where, **self.stats}) + "\n")
            except OSError as e:  # a bench's figures, never a reason to fail a run's teardown
                print(f"AURA_FRONT_STATS={stats_file}: not written ({e})", file=sys.stderr)
