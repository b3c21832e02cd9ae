"""The hosts layout's printed config, reached the way the suite reaches it: SSH to the front
through `[front] proxy_jump`, and `[front] forward` tunnels for the database, the engine and the
upstreams (the staging namespace has no route to the runner).

Built on the suite's own helpers (helpers/front), never on sandbox/: a test sees the target as
the suite does.
"""
from __future__ import annotations

import shlex
import socket
import subprocess
from pathlib import Path
from typing import Any

from helpers.config import load_config
from helpers.front import open_front
from helpers.front.forwards import through_front


def ssh_config_text(front: dict) -> str:
    """An ssh_config whose `Host *` reaches every hop (the jump host gets only -F of the client's
    options), strict about host keys from [front] known_hosts."""
    return ("Host *\n"
            f"    IdentityFile \"{front['identity_file']}\"\n    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile \"{front['known_hosts']}\"\n    GlobalKnownHostsFile /dev/null\n"
            "    StrictHostKeyChecking yes\n    BatchMode yes\n    ConnectTimeout 5\n    LogLevel ERROR\n")


def ssh_argv(front: dict, folder: Path) -> list[str]:
    """`ssh …` to [front] ssh through [front] proxy_jump (no control master)."""
    config = folder / "ssh_config"
    config.write_text(ssh_config_text(front))
    user_host, _, port = front["ssh"].rpartition(":")
    jump = ["-J", front["proxy_jump"]] if front.get("proxy_jump") else []
    return ["ssh", "-F", str(config), *jump, "-p", port, user_host]


def as_root(front: dict, command: str) -> str:
    """`command` (a shell line) under [front] become, as the suite runs its own scripts on the
    front: the SSH user owns none of the nginx files. As it is when become is unset."""
    become = front.get("become")
    return f"{become} sh -c {shlex.quote(command)}" if become else command


class Route:
    """The suite's connection to the front (one control master) and its forwards, opened from the
    printed config: `database_url`, `docker_url` as the runner reaches them."""

    def __init__(self, path: str | Path):
        self.cfg = load_config(path, register_secrets=False)
        self.front: Any = open_front(self.cfg.front)
        self.front.connect()
        try:
            self.reached, self.upstream_sockets = through_front(self.front, self.cfg)
        except BaseException:
            self.front.close()
            raise

    @property
    def database_url(self) -> str:
        return self.reached.database.url

    @property
    def docker_url(self) -> str:
        return self.reached.docker.url

    def upstream_get(self, pool: str, path: str, timeout: float = 5.0) -> int:
        """HTTP status of GET `path` on upstream `pool`, through its forward."""
        import httpx

        address = getattr(self.cfg.upstreams, pool)
        transport = httpx.HTTPTransport(uds=self.upstream_sockets[address])
        with httpx.Client(transport=transport, timeout=timeout) as client:
            return client.get(f"http://{address}{path}").status_code

    def close(self) -> None:
        self.front.close()


def connect_fails(host: str, port: int, timeout: float = 1.0) -> str | None:
    """None when a TCP connect from here succeeds, else the error (refused, unreachable …)."""
    with socket.socket() as s:
        s.settimeout(timeout)
        try:
            s.connect((host, port))
        except OSError as e:
            return f"{type(e).__name__}: {e}"
    return None


def on_front(argv: list[str], command: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*argv, "--", command], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


__all__ = ["Route", "as_root", "connect_fails", "on_front", "shlex", "ssh_argv", "ssh_config_text"]
