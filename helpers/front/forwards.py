"""`[front] forward`: endpoints the runner reaches through the front host, as SSH tunnels.

A staging behind a bastion lets the runner reach the front host by SSH and nothing else; the
database, the engine and the upstreams answer only on the staging's own network. Their addresses
stay in the config as the staging host sees them (`[database] url` host:port, `[docker] url`
tcp://host:port or unix:///path, `[upstreams]` host:port), and each endpoint named in `forward`
becomes a unix socket on the runner, opened on the run's one control master
(`ssh -O forward -L SOCKET:host:port`). Sockets, not TCP ports: the OpenSSH here refuses
`-L 0:…` (a port it picks) on a mux client, and a fixed port could be anyone's.

This module is the address rewriting (pure: which endpoint becomes which socket and URL) and the
opening (through `SshFront.forward`); the Target (fixtures/target.py) calls `through_front` once
and builds its adapters from the config it returns, so the rest of the suite never learns that a
tunnel is in the way:
- the database: a libpq URI with `host=<folder>&port=<its port>`: libpq looks for the socket
  `<folder>/.s.PGSQL.<port>`, so the database's socket is named that way. The lock, the row
  backups, the restore and every read take `[database] url` from the Target's config, so all of
  them go through it;
- the engine: `unix://<folder>/docker.sock` for the Docker SDK;
- the upstreams: their addresses stay (the upstream include names them, and the active pool is
  read by matching it); the run's HTTP clients send a request for `http://<address>` through the
  address's socket (`HttpClients(unix_sockets=…)`), so the readiness and health checks of a
  recreated container go through it.

What crosses the tunnel is the endpoint's own protocol: libpq uses no TLS on a unix socket, so the
database's traffic is encrypted by SSH as far as the front host and travels from there as the
front host's own connection would. An engine that needs TLS (DOCKER_TLS_VERIFY / DOCKER_CERT_PATH)
cannot be forwarded this way (the SDK speaks plain HTTP to a unix socket): refused in one line.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from helpers.front.protocol import Front, FrontError
from helpers.front.ssh import SshFront

if TYPE_CHECKING:
    from helpers.config import TargetConfig

__all__ = ["DOCKER_SOCKET", "SOCKET_PATH_MAX", "Forward", "ForwardError", "Forwarder", "forward_line",
           "open_forwards", "plan_forwards", "reached_config", "through_front", "upstream_sockets"]

DOCKER_SOCKET = "docker.sock"
SOCKET_PATH_MAX = 104      # sun_path is 108 bytes on Linux (104 on the BSDs): the shorter one
PROBE_TIMEOUT_S = 5.0


class ForwardError(Exception):
    """A forward that cannot open: one line naming the endpoint (`forward_line`)."""


class Forwarder(Protocol):
    """What opening a forward needs of the front (helpers/front/ssh.py's SshFront)."""
    where: str             # user@host:port of the front, as lines name it

    @property
    def folder(self) -> str: ...

    def forward(self, socket_path: str, far: str) -> None: ...

    def reach(self, far: str, timeout_s: float) -> str | None: ...


@dataclass(frozen=True)
class Forward:
    """One tunnel: the endpoint it serves, what the front host connects to, the runner's socket."""
    endpoint: str       # "database", "docker", "upstreams api_v1"
    far: str            # as the staging host sees it: "host:port" ("[v6]:port"), or "/path" (a unix socket)
    socket: str         # the runner's end: a unix socket in the run's 0700 folder

    @property
    def far_tcp(self) -> tuple[str, int] | None:
        """(host, port) when the far end is TCP; None for a unix socket on the staging host."""
        if self.far.startswith("/"):
            return None
        host, _, port = self.far.rpartition(":")
        return host.strip("[]"), int(port)


def forward_line(forward: Forward, where: str, reason: str) -> str:
    """`[front] forward database: 127.0.0.1:5432 through root@front:22: <reason>` (one line)."""
    text = f"[front] forward {forward.endpoint}: {forward.far} through {where}: {reason}"
    return " ".join(text.split())


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _database_far(url: str) -> tuple[str, int]:
    """(what the front host connects to, the port libpq names the socket by) for `[database] url`.
    Parsed by libpq's own rules (psycopg's conninfo parser: no connection is made)."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(url)
    host = str(params.get("hostaddr") or params.get("host") or "")
    port_text = str(params.get("port") or "5432")
    if not host:
        raise ForwardError("[front] forward database: [database] url names no host (give the host the "
                           "front host reaches the database at)")
    if "," in host or "," in port_text:
        raise ForwardError(f"[front] forward database: [database] url names several hosts ({host}); "
                           "a forward reaches one")
    port = int(port_text)
    if host.startswith("/"):  # a unix socket folder on the staging host
        return f"{host.rstrip('/')}/.s.PGSQL.{port}", port
    return _host_port(host, port), port


def _docker_far(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    if not parts.port:
        raise ForwardError(f"[front] forward docker: [docker] url {url} names no port")
    return _host_port(str(parts.hostname), parts.port)


def plan_forwards(cfg: TargetConfig, folder: str) -> list[Forward]:
    """The forwards `[front] forward` asks for, each with its socket in `folder` (pure)."""
    wanted = set(cfg.front.forward)
    out: list[Forward] = []
    if "database" in wanted:
        far, port = _database_far(cfg.database.url)
        out.append(Forward("database", far, os.path.join(folder, f".s.PGSQL.{port}")))
    if "docker" in wanted:
        out.append(Forward("docker", _docker_far(cfg.docker.url), os.path.join(folder, DOCKER_SOCKET)))
    if "upstreams" in wanted:
        for pool, address in cfg.upstreams.items():
            out.append(Forward(f"upstreams {pool}", address, os.path.join(folder, f"upstream-{pool}.sock")))
    return out


def _database_url_through(url: str, folder: str, port: int) -> str:
    """`url` with its host and port replaced by `host=<folder>&port=<port>` (user, password,
    database and every other parameter kept)."""
    parts = urlsplit(url)
    userinfo, at, _ = parts.netloc.rpartition("@")
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("host", "hostaddr", "port")]
    query = urlencode([*kept, ("host", folder), ("port", str(port))], quote_via=quote, safe="/")
    return urlunsplit((parts.scheme, userinfo + at, parts.path, query, parts.fragment))


def reached_config(cfg: TargetConfig, forwards: list[Forward]) -> TargetConfig:
    """The config as the runner reaches it through `forwards`: `[database] url` and `[docker] url`
    name the sockets; everything else (the upstreams included) is as written."""
    by_endpoint = {f.endpoint: f for f in forwards}
    database, docker = cfg.database, cfg.docker
    if "database" in by_endpoint:
        folder, port = os.path.dirname(by_endpoint["database"].socket), _database_far(database.url)[1]
        database = database.model_copy(update={"url": _database_url_through(database.url, folder, port)})
    if "docker" in by_endpoint:
        docker = docker.model_copy(update={"url": f"unix://{by_endpoint['docker'].socket}"})
    if database is cfg.database and docker is cfg.docker:
        return cfg
    # model_copy keeps the private attributes (the sources, the secrets taken from the environment)
    return cfg.model_copy(update={"database": database, "docker": docker})


def upstream_sockets(cfg: TargetConfig, forwards: list[Forward]) -> dict[str, str]:
    """`[upstreams]` address -> the runner's socket for it (the run's HTTP clients route by it)."""
    by_endpoint = {f.endpoint: f.socket for f in forwards}
    return {address: by_endpoint[f"upstreams {pool}"] for pool, address in cfg.upstreams.items()
            if f"upstreams {pool}" in by_endpoint}


def _tls_engine() -> bool:
    return bool(os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_CERT_PATH"))


def open_forwards(front: Forwarder, cfg: TargetConfig, *,
                  probe_timeout_s: float = PROBE_TIMEOUT_S) -> list[Forward]:
    """Open every forward `[front] forward` names on the front's control master, and ask the front
    host to reach each far end once first (`SshFront.reach`: a forward only binds the runner's
    socket; the front host connects when a client does, so a closed port would show only at the
    first use, after the lock is taken). ForwardError, one line naming the endpoint, for the first
    that cannot open: before anything on staging is touched."""
    forwards = plan_forwards(cfg, front.folder)
    for f in forwards:
        if f.endpoint == "docker" and f.far_tcp is not None and _tls_engine():
            raise ForwardError(forward_line(f, front.where, "the engine wants TLS (DOCKER_TLS_VERIFY / "
                                            "DOCKER_CERT_PATH) and a forwarded unix socket carries plain HTTP"))
        if len(f.socket.encode()) >= SOCKET_PATH_MAX:
            raise ForwardError(forward_line(f, front.where, f"the socket path {f.socket} is longer than a "
                                            f"unix socket allows ({SOCKET_PATH_MAX - 1} bytes); set TMPDIR shorter"))
    for f in forwards:
        try:
            refused = front.reach(f.far, probe_timeout_s)
            if refused:
                raise ForwardError(forward_line(f, front.where, refused))
            front.forward(f.socket, f.far)
        except FrontError as e:
            raise ForwardError(forward_line(f, front.where, str(e))) from None
    return forwards


def through_front(front: Front, cfg: TargetConfig) -> tuple[TargetConfig, dict[str, str]]:
    """The config as the runner reaches the target, and the upstreams' sockets: `cfg` and {} when
    `[front] forward` is empty; else every forward opened on `front` (ForwardError if one cannot)."""
    if not cfg.front.forward:
        return cfg, {}
    if not isinstance(front, SshFront):  # the config refuses forward without ssh: a caller's mistake
        raise ForwardError("[front] forward: needs the SSH front of [front] ssh")
    started = time.monotonic()
    forwards = open_forwards(front, cfg)
    front.stats["forwards_s"] += time.monotonic() - started  # for the bench (AURA_FRONT_STATS)
    return reached_config(cfg, forwards), upstream_sockets(cfg, forwards)
