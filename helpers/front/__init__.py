"""The front host: where the `[nginx]` files live and `test_cmd` / `reload_cmd` run.

One transport, chosen once from `[front]` by `open_front` (STYLE.md 11) and held by the run's
Target, which closes it at its end: every read, hash, write and command of the nginx side goes
through it, and the caller never learns where the files are.

- protocol.py: `Front`, the interface both implement, and the path checks' wording;
- local.py:    `LocalFront` (no `[front] ssh`): local files, commands run here as argv;
- ssh.py:      `SshFront` (`[front] ssh = "user@host:port"`): one OpenSSH control master;
- forwards.py: `[front] forward`: the database, the engine and the upstreams reached through the
               front host, as unix sockets opened on that master (the Target's addresses).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from helpers.front.local import LocalFront
from helpers.front.protocol import Front, FrontError, PathCheck
from helpers.front.ssh import SshFront

if TYPE_CHECKING:
    from helpers.config.models import FrontSection, NginxSection

__all__ = ["Front", "FrontError", "LocalFront", "PathCheck", "SshFront", "nginx_path_checks", "open_front",
           "unreachable"]


def open_front(spec: FrontSection | None) -> Front:
    """The transport `[front]` names (not yet connected): SSH when `ssh` is set, else this host."""
    if spec is not None and spec.ssh:
        return SshFront(spec)
    return LocalFront()


def nginx_path_checks(nginx: NginxSection) -> list[PathCheck]:
    """The `[nginx]` paths and commands, as the front host must have them."""
    written = [PathCheck("[nginx] conf", str(nginx.conf), "file"),
               PathCheck("[nginx] upstream_include", str(nginx.upstream_include), "file"),
               PathCheck("[nginx] backup", str(nginx.backup), "dir")]
    # the files the faults and the restore write (the backup is the runbook's to write, but the
    # restore puts it back when a drill's rollback damaged it)
    return [*written, *(PathCheck(c.key, c.path, "write") for c in written),
            PathCheck("[nginx] error_log", str(nginx.error_log), "dir"),
            PathCheck("[nginx] test_cmd", nginx.test_cmd, "cmd"),
            PathCheck("[nginx] reload_cmd", nginx.reload_cmd, "cmd")]


def unreachable(front: Front, nginx: NginxSection) -> list[str]:
    """Connect (strict host key over SSH; nothing to do locally), then ask the front for every
    `[nginx]` path and command (one round trip over SSH): one line per problem, naming the key."""
    try:
        front.connect()
        return front.path_problems(nginx_path_checks(nginx))
    except FrontError as e:
        return [str(e)]
