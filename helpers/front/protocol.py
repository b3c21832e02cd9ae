"""What a front host transport is: the one interface the local and the SSH front implement.

Where the `[nginx]` files live and `test_cmd` / `reload_cmd` run is one object's business
(STYLE.md 11): snapshot, faults, state checks and restore take a `Front` and never learn whether
it is this host or one over SSH. Each question that used to be answered by asking "is it remote?"
is a method here, answered by the transport that knows.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from helpers.commands import CommandResult

__all__ = ["Front", "FrontError", "PathCheck", "PathLike", "first_problem_per_key", "path_problem"]

PathLike = str | os.PathLike[str]


class FrontError(RuntimeError):
    """The front host cannot be used: one line naming the `[front]` key (or the path) at fault."""


@dataclass(frozen=True)
class PathCheck:
    key: str      # "[nginx] conf"
    path: str
    kind: str     # "file" (must exist), "dir" (its directory must exist), "cmd" (first word executable),
                  # "write" (the file a symlink leads to, if it exists, and its folder are writable:
                  # the suite's writes are a temporary file there renamed over it)


def path_problem(check: PathCheck, command_path: str, on: str, whose: str = "") -> str:
    """The one line for a failed check; `on` says where it was asked (" on the front host X"),
    `whose` whom a write was refused to, and what to do about it."""
    if check.kind == "file":
        return f"{check.key}: {check.path} does not exist{on}"
    if check.kind == "dir":
        return f"{check.key}: directory {os.path.dirname(check.path)} does not exist{on}"
    if check.kind == "write":
        return f"{check.key}: {check.path} is not writable{on}{whose}"
    return f"{check.key}: {command_path} is not an executable file{on}"


def first_problem_per_key(problems: list[tuple[PathCheck, str]]) -> list[str]:
    """A key's writability is news only when the key has no other problem (a missing file is not
    writable either)."""
    seen: set[str] = set()
    out = []
    for check, line in problems:
        if check.kind != "write" or check.key not in seen:
            out.append(line)
        seen.add(check.key)
    return out


@runtime_checkable
class Front(Protocol):
    """The front host's files and commands. `where` names it for messages ("this host",
    "user@host:port")."""
    where: str

    def connect(self) -> Front:
        """Open what the run keeps open to the front (the SSH control master; nothing locally);
        FrontError naming the `[front]` key when it cannot."""
        ...

    def close(self) -> None:
        """End what `connect` opened (the target's teardown)."""
        ...

    def read_bytes(self, path: PathLike) -> bytes:
        """The file's bytes; FileNotFoundError when it is missing."""
        ...

    def read_text(self, path: PathLike) -> str:
        ...

    def sha256(self, path: PathLike) -> str | None:
        """"sha256:<hex>" of the file's bytes, None when it does not exist."""
        ...

    def exists(self, path: PathLike) -> bool:
        ...

    def write_bytes(self, path: PathLike, data: bytes) -> None:
        """Atomically (temp + rename beside it), keeping an existing file's mode."""
        ...

    def copy(self, src: PathLike, dst: PathLike) -> None:
        """`cp src dst` on the front (the runbook's backup step)."""
        ...

    def remove(self, path: PathLike) -> bool:
        """Delete the file if it exists (a drill's own file: the compose override); whether it did."""
        ...

    def run(self, command: str, timeout: float) -> CommandResult:
        """One of the config's front command lines (`test_cmd`, `reload_cmd`, ...)."""
        ...

    def state(self, conf: PathLike, test_cmd: str, timeout: float,
              want: str | None = None) -> tuple[str | None, bool]:
        """(sha256 of `conf`, whether `test_cmd` passes): the drill's per-poll check. With `want`,
        `test_cmd` runs only when the digest is `want` (else False: not worth testing yet)."""
        ...

    def tail(self, path: PathLike, lines: int) -> str:
        """The file's last lines, or one line saying why there are none (never raises)."""
        ...

    def path_problems(self, checks: Sequence[PathCheck]) -> list[str]:
        """One line per check that fails as the front sees it: a file that is not a regular file,
        a directory that is missing, a command whose first word is not an executable file, a file
        this front's user may not write (SSH: under `[front] become` when set)."""
        ...

    def testinfra_host(self) -> Any:
        """testinfra's host for the front (its `local://` or `ssh://` backend)."""
        ...

    def checks_host_of(self, url: str) -> bool:
        """Whether `testinfra_host()` is the host that serves `url` (so its processes, ports and
        files can be checked there)."""
        ...

    def sees_listener(self, address: str) -> bool:
        """Whether a listener bound to `address` is one the front host can check as its own."""
        ...

    def environment_rows(self) -> dict[str, str]:
        """What the report's environment table says of how the front is reached ({} for this
        host: nothing to say)."""
        ...
