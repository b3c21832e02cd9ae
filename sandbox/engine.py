"""Which Docker Engine API the sandbox's containers run on: AURA_SANDBOX_ENGINE chooses.

- unset (the default): an engine the user already has ($DOCKER_HOST, then /var/run/docker.sock),
  whatever it is, else the Podman API service the sandbox owns (podman_service.py);
- `docker`: a Docker Engine — one of those two whose /version names no Podman component, else a
  private dockerd the sandbox owns (dockerd.py; its socket and data root under the state folder);
- `podman`: one of those two that is Podman, else the sandbox's own Podman service.

The URL chosen is recorded (`<state>/engine/in-use`), so `down` and `status` reach the engine the
containers are on whatever the environment says then.
"""
from __future__ import annotations

import http.client
import json
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from . import dockerd
from .errors import SandboxError
from .layout import Layout
from .podman_service import (
    DOCKER_SOCK,
    UnixHTTPConnection,
    ensure_podman,
    ping,
    socket_url,
    status as podman_status,
    stop_podman,
    upload_tmp_dir,
)

__all__ = ["ENGINE_CHOICES", "engine_choice", "engine_status", "ensure_engine", "ensure_podman", "is_podman", "ping",
           "reach_recorded", "recorded_url", "socket_url", "stop_engine", "stop_podman", "upload_tmp_dir", "version"]

Log = Callable[[str], None]

ENGINE_CHOICES = ("docker", "podman")


def engine_choice() -> str:
    """AURA_SANDBOX_ENGINE: "docker", "podman", or "" (the default: whatever answers, else Podman)."""
    chosen = os.environ.get("AURA_SANDBOX_ENGINE", "").strip()
    if chosen and chosen not in ENGINE_CHOICES:
        raise SandboxError(f"AURA_SANDBOX_ENGINE={chosen!r} is not one of: {', '.join(ENGINE_CHOICES)}")
    return chosen


def version(url: str, timeout: float = 5.0) -> dict:
    """The engine's /version answer ({} when it cannot be read): Podman names itself among its
    Components ("Podman Engine"), a Docker Engine does not."""
    parsed = urlparse(url)
    try:
        if parsed.scheme in ("unix", "http+unix"):
            conn: http.client.HTTPConnection = UnixHTTPConnection(parsed.path or parsed.netloc, timeout)
        elif parsed.scheme in ("tcp", "http"):
            conn = http.client.HTTPConnection(parsed.hostname or "localhost", parsed.port or 2375, timeout=timeout)
        else:
            return {}
        try:
            conn.request("GET", "/version")
            resp = conn.getresponse()
            return json.loads(resp.read()) if resp.status == 200 else {}
        finally:
            conn.close()
    except (OSError, ValueError):
        return {}


def is_podman(url: str) -> bool:
    return any("podman" in str(c.get("Name", "")).lower() for c in version(url).get("Components") or ())


def _in_use_file(layout: Layout) -> Path:
    return layout.engine_dir / "in-use"


def recorded_url(layout: Layout) -> str | None:
    """The engine URL the last `up` chose (None: never, or `down` since)."""
    try:
        return _in_use_file(layout).read_text().strip() or None
    except OSError:
        return None


def _record(layout: Layout, url: str) -> str:
    layout.engine_dir.mkdir(parents=True, exist_ok=True)
    _in_use_file(layout).write_text(url + "\n")
    return url


def _existing(choice: str, log: Log) -> str | None:
    """DOCKER_HOST, then /var/run/docker.sock, when it answers and is of the chosen kind."""
    for url, name in ((os.environ.get("DOCKER_HOST"), "DOCKER_HOST"), (f"unix://{DOCKER_SOCK}", None)):
        if not url or not ping(url):
            continue
        if choice and (choice == "podman") != is_podman(url):
            log(f"engine: {url} answers but is not {choice}; not used (AURA_SANDBOX_ENGINE={choice})")
            continue
        log(f"engine: using {name + '=' if name else ''}{url}")
        return url
    return None


def ensure_engine(layout: Layout, log: Log) -> str:
    """Return a DOCKER_HOST-form URL of an engine of AURA_SANDBOX_ENGINE's kind that answers ping,
    starting the sandbox's own (Podman service, or dockerd for `docker`) if needed."""
    choice = engine_choice()
    found = _existing(choice, log)
    if found is not None:
        return _record(layout, found)
    if choice == "docker":
        return _record(layout, dockerd.ensure(layout, log, ping))
    return _record(layout, ensure_podman(layout, log))


def record_url(layout: Layout, url: str) -> str:
    """Record `url` as the engine in use (the hosts layout chooses its own Podman service)."""
    return _record(layout, url)


def reach_recorded(layout: Layout, log: Log) -> str:
    """The engine the sandbox's containers are on (the one the last `up` chose), started again
    when it is the sandbox's own and does not run; else the one ensure_engine would choose."""
    url = recorded_url(layout)
    if url == dockerd.socket_url(layout):
        return dockerd.ensure(layout, log, ping)
    if url == socket_url(layout):
        return ensure_podman(layout, log)
    if url and ping(url):
        return url
    return ensure_engine(layout, log)


def stop_engine(layout: Layout, log: Log) -> None:
    """Stop the sandbox's own engines (its dockerd, its podman service), each only by the pid in
    its pid file; harmless when none runs. An engine the sandbox did not start is left running."""
    dockerd.stop(layout, log)
    stop_podman(layout, log)
    _in_use_file(layout).unlink(missing_ok=True)


def engine_status(layout: Layout) -> tuple[bool, str]:
    """(answers, one-line description) of the engine the sandbox is on (the recorded one, else
    the one ensure_engine would use), without starting one."""
    recorded = recorded_url(layout)
    ours = dockerd.status(layout, ping)
    if recorded == dockerd.socket_url(layout) or (ours is not None and recorded is None):
        return ours or (False, f"the sandbox's dockerd does not run ({dockerd.socket_url(layout)})")
    if recorded and recorded != socket_url(layout):
        return (True, f"{recorded} answers") if ping(recorded) else (False, f"{recorded} does not answer")
    choice = engine_choice()
    env_host = os.environ.get("DOCKER_HOST")
    if recorded is None and choice != "docker" and env_host and ping(env_host):
        return True, f"DOCKER_HOST {env_host} answers"
    if recorded is None and choice != "docker" and ping(f"unix://{DOCKER_SOCK}"):
        return True, f"unix://{DOCKER_SOCK} answers"
    return podman_status(layout)
