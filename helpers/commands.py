"""Running one of the target's commands.

A command is one string from the config, split with shlex (no shell), with an absolute first word;
the suite appends only the runbook's own arguments. Each runs in its own session and so its own
process group (`start_new_session=True`): pytest-timeout kills neither a bare Popen child nor its
grandchildren, so finalizers and timeouts end the whole group with `kill_group`.

Output goes to unnamed temporary files, not pipes: a command that leaves a background process
holding its stdout (a rollback that restarts a daemon, a "heal later" fake) would make a pipe reader
wait for that process; with files the suite waits for the command itself and no longer.
Finishing does not end the group: what a command deliberately leaves running (a delayed healer)
runs on until a finalizer calls `kill()`.
"""
from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from helpers.clock import REAL, Clock
from helpers.redact import redact_argv
from helpers.wait import Wait

__all__ = ["CommandError", "CommandResult", "RunningCommand", "build_argv", "command_problem", "kill_group",
           "run", "run_verify", "split_command", "start"]

OUTPUT_LIMIT = 1 << 20  # keep the last MiB of each stream: enough for any troubleshooting tail


class CommandError(ValueError):
    """A command string that cannot be run (bad quoting, empty, relative, not executable)."""


def split_command(command: str) -> list[str]:
    try:
        words = shlex.split(command)
    except ValueError as e:
        raise CommandError(f"cannot split {command!r}: {e}") from None
    if not words:
        raise CommandError("empty command")
    return words


def command_problem(command: object) -> str | None:
    """Why `command` cannot be run as a config command, in a few words; None when it can."""
    if not isinstance(command, str):
        return None  # type errors are the config's business
    try:
        first = split_command(command)[0]
    except CommandError as e:
        return str(e)
    if not os.path.isabs(first):
        return f'first word "{first}" is not an absolute path'
    if os.path.isdir(first):
        return f"{first} is not an executable file (a directory)"
    if not os.path.isfile(first):
        return f"{first} is not an executable file (no such file)"
    if not os.access(first, os.X_OK):
        return f"{first} is not an executable file (mode {os.stat(first).st_mode & 0o777:04o})"
    return None


def build_argv(command: str, args: Sequence[str] = ()) -> list[str]:
    return split_command(command) + [str(a) for a in args]


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]        # redacted, for display only
    exit_code: int | None        # negative: killed by that signal (as subprocess reports it)
    stdout: str
    stderr: str
    started: float               # monotonic, taken just before the spawn
    ended: float                 # monotonic, when the command was seen to end
    timed_out: bool = False

    @property
    def duration_s(self) -> float:
        return self.ended - self.started

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def display(self) -> str:
        return shlex.join(self.argv)

    def summary(self) -> str:
        """One line: what ran, how it ended, how long it took."""
        how = "timed out" if self.timed_out else f"exit {self.exit_code}"
        return f"{self.display}: {how} after {self.duration_s:.2f}s"


def _read_tail(f: IO[bytes]) -> str:
    f.flush()
    size = f.seek(0, os.SEEK_END)
    cut = max(0, size - OUTPUT_LIMIT)
    f.seek(cut)
    text = f.read().decode("utf-8", errors="replace")
    return f"[… {cut} bytes cut …]\n{text}" if cut else text


def _live_members(pgid: int) -> bool | None:
    """Whether a live (non-zombie) process is in group `pgid`; None when /proc cannot tell."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) "
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


KILL_GRACE_S = 2.0   # SIGTERM to SIGKILL
KILL_REAP_S = 5.0    # then the leader's last wait
KILL_BOUND_S = KILL_GRACE_S + 2 * KILL_REAP_S  # the leader's wait, then the group's


def kill_group(proc: subprocess.Popen, grace_s: float = KILL_GRACE_S, clock: Clock = REAL) -> None:
    """End `proc` and every process of its group: SIGTERM, up to `grace_s` to go, then SIGKILL.

    `proc` must lead its own group (started with start_new_session=True); otherwise only `proc`
    itself is killed, never the group it shares with someone else (such as the test runner).
    """
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        pgid = proc.pid  # leader gone (maybe reaped); its group may live on under its id
    if pgid != proc.pid or pgid == os.getpgrp():
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        return
    _signal_group(pgid, signal.SIGTERM)
    for _ in Wait(f"process group {pgid} to end after SIGTERM", grace_s, 0.02, clock).rounds():
        proc.poll()  # reap the leader, or it stays a zombie member of the group
        if _live_members(pgid) is False:
            break
    _signal_group(pgid, signal.SIGKILL)  # harmless when all went; decisive when some ignored TERM
    with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL not delivered (D state)
        proc.wait(timeout=KILL_REAP_S)
    # SIGKILL is delivered to each member on its next scheduling; on a loaded machine a grandchild
    # can still run for a moment after the leader is reaped. Return only once the group is gone
    # (or the bound is spent), so a caller that says "ended" means it.
    Wait(f"process group {pgid} to end after SIGKILL", KILL_REAP_S, 0.01, clock).poll(
        lambda: _live_members(pgid) is False)


class RunningCommand:
    """A command started in its own process group; `wait()` turns it into a CommandResult.

    Use as a context manager (or call `kill()` from a finalizer): leaving the block ends whatever
    of the group still runs.
    """

    def __init__(self, argv: Sequence[str], *, extra_env: Mapping[str, str] | None = None,
                 cwd: str | os.PathLike[str] | None = None, clock: Clock = REAL) -> None:
        self.clock = clock
        self.argv = redact_argv(argv)
        env = None
        if extra_env:
            env = {**os.environ, **{k: str(v) for k, v in extra_env.items()}}
        # Open for the process's whole life: _finish reads and closes them.
        self._out = tempfile.TemporaryFile()  # noqa: SIM115
        self._err = tempfile.TemporaryFile()  # noqa: SIM115
        self.started = clock.monotonic()  # t0: just before the spawn
        try:
            self.proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=self._out,
                                         stderr=self._err, env=env, cwd=cwd,
                                         start_new_session=True)
        except OSError:
            self._out.close()
            self._err.close()
            raise
        self._result: CommandResult | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def _finish(self, timed_out: bool) -> CommandResult:
        ended = self.clock.monotonic()
        self._result = CommandResult(self.argv, self.proc.returncode, _read_tail(self._out),
                                     _read_tail(self._err), self.started, ended, timed_out)
        self._out.close()
        self._err.close()
        return self._result

    def wait(self, timeout: float) -> CommandResult:
        """Wait up to `timeout` seconds; past it, kill the group and report `timed_out`."""
        if self._result is not None:
            return self._result
        try:
            self.proc.wait(timeout=max(0.0, timeout))
        except subprocess.TimeoutExpired:
            kill_group(self.proc, clock=self.clock)
            return self._finish(timed_out=True)
        return self._finish(timed_out=False)

    def kill(self, grace_s: float = 2.0) -> None:
        """End the whole group (also what the command left running after it exited)."""
        kill_group(self.proc, grace_s=grace_s, clock=self.clock)

    def __enter__(self) -> RunningCommand:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
        if self._result is None:
            self._finish(timed_out=False)


def start(command: str, args: Sequence[str] = (), *, extra_env: Mapping[str, str] | None = None,
          cwd: str | Path | None = None, clock: Clock = REAL) -> RunningCommand:
    """Spawn `command` + `args` without waiting: the drill probes while it runs."""
    return RunningCommand(build_argv(command, args), extra_env=extra_env, cwd=cwd, clock=clock)


def run(command: str, args: Sequence[str] = (), *, timeout: float,
        extra_env: Mapping[str, str] | None = None, cwd: str | Path | None = None,
        clock: Clock = REAL) -> CommandResult:
    """Run `command` + `args` to the end, or kill its group after `timeout` seconds."""
    # The context manager ends the whole process group on the way out: nothing the command left
    # behind (or a command interrupted by a pytest-timeout signal) outlives the call.
    with start(command, args, extra_env=extra_env, cwd=cwd, clock=clock) as running:
        return running.wait(timeout)


VERIFY_TIMEOUT_S = 60


def run_verify(cfg, version: str | None = None, clock: Clock = REAL) -> CommandResult:
    """The target's own `verify --api-url URL [--expect-version V]` ([commands] verify): the
    drill's functional check and the restore's final verify."""
    args = ["--api-url", cfg.target.api_url, *(["--expect-version", version] if version else [])]
    return run(cfg.commands.verify, args, timeout=VERIFY_TIMEOUT_S, clock=clock)
