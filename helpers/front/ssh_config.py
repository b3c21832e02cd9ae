"""The ssh_config a run writes for its route to the front host, passed to every ssh with `-F`.

Why a file and not `-o` options: OpenSSH hands a jump hop (ProxyJump) only `-l -p -J -F -v` of
the command line, never its `-o` options, so options given as `-o` would leave the hop with the
runner's own ssh config: no strict host key, another known_hosts, a prompt. What the file says
under `Host *` reaches every hop, and ssh_config's rule (the first value obtained wins) makes that
block win over whatever follows it, the team's own file included.

    Host *                       forced for every host and hop: batch mode, strict host keys from
                                 [front] known_hosts only, [front] identity_file only
    Host aura-front              with [front] proxy_jump: the front under an alias of its own, so
                                 the jump hop (a different name) never matches it, even when the
                                 jump host and the front share an address
    Match all / Include FILE     with [front] ssh_config: the team's route, after the forced block

What stays on the command line is what must not reach a hop: the control socket (a hop must not
multiplex over the front's master) and the port of the front.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from helpers.config.values import split_ssh

__all__ = ["FRONT_ALIAS", "Route", "jump_hops", "port_given"]

FRONT_ALIAS = "aura-front"   # the Host name the front gets in the file when there is a jump host


def _quoted(value: str | os.PathLike[str]) -> str:
    """A value for ssh_config: double-quoted (paths may hold spaces); a `"` cannot be quoted there."""
    text = str(value)
    if '"' in text or "\n" in text:
        raise ValueError(f"{text!r}: ssh_config cannot carry a path with a double quote or a newline")
    return f'"{text}"'


def jump_hops(proxy_jump: str | None) -> list[tuple[str | None, str, int]]:
    """(user, host, port) of each hop of `[front] proxy_jump`, the first hop first."""
    return [split_ssh(hop) for hop in proxy_jump.split(",")] if proxy_jump else []


def port_given(ssh: str) -> bool:
    """Whether `"user@host:port"` names its port (`[v6]:port` too)."""
    rest = ssh.rpartition("@")[2]
    return ":" in rest.rpartition("]")[2]


@dataclass(frozen=True)
class Route:
    """How this run reaches the front host: from `[front]`."""
    user: str | None
    host: str
    port: int
    port_given: bool                 # `[front] ssh` named a port (else the team's file may say it)
    known_hosts: Path
    identity_file: Path | None = None
    proxy_jump: str | None = None
    ssh_config: Path | None = None
    connect_timeout_s: int = 5

    @property
    def destination(self) -> str:
        """What ssh is told to connect to: the alias with a jump host, else `[front] ssh`'s host."""
        host = FRONT_ALIAS if self.proxy_jump else self.host
        return f"{self.user}@{host}" if self.user else host

    def hops(self) -> list[tuple[str | None, str, int]]:
        return jump_hops(self.proxy_jump)

    def text(self) -> str:
        lines = ["# Written by the drill suite for one run (helpers/front/ssh_config.py).",
                 "Host *",
                 "    BatchMode yes",
                 "    StrictHostKeyChecking yes",
                 f"    UserKnownHostsFile {_quoted(self.known_hosts)}",
                 "    GlobalKnownHostsFile /dev/null",
                 "    UpdateHostKeys no",
                 "    CheckHostIP no",
                 f"    ConnectTimeout {max(1, self.connect_timeout_s)}",
                 "    LogLevel ERROR"]
        if self.identity_file is not None:
            lines += ["    IdentitiesOnly yes", f"    IdentityFile {_quoted(self.identity_file)}"]
        if self.proxy_jump:
            lines += [f"Host {FRONT_ALIAS}", f"    HostName {self.host}", f"    Port {self.port}",
                      f"    ProxyJump {self.proxy_jump}"]
        if self.ssh_config is not None:
            lines += ["Match all", f"    Include {_quoted(self.ssh_config)}"]
        return "\n".join(lines) + "\n"

    def write(self, folder: str | os.PathLike[str]) -> Path:
        """The file, in the run's private folder (0600: it names the key, it holds no secret)."""
        path = Path(folder) / "ssh_config"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self.text())
        return path

    def command_line(self, config_file: Path, control_path: str) -> Sequence[str]:
        """The options of every ssh to the front (not to a hop: see the module's docstring)."""
        opts = ["-F", str(config_file), "-o", f"ControlPath={control_path}"]
        if self.port_given or self.ssh_config is None:
            opts += ["-p", str(self.port)]
        return opts
