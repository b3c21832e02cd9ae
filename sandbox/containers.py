"""The two API containers of the baseline: api_v1 on the stable release, api_v2 on the next one.

Both use host networking (PLATFORM.md: the engine's default bridge does not work here) and listen
on 127.0.0.1:<pool port>. A killed run can leave a container behind (stopped, or running an image
a drill left it on): ensure_* keeps a container only if it matches exactly what the baseline asks
for and recreates it otherwise. Health is the app's own /healthz, polled from here: Podman's
container healthchecks need systemd timers and never leave `starting` on this machine.
"""
from __future__ import annotations

import contextlib
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import docker
import docker.errors
from docker.models.containers import Container

from .engine_client import model_id
from .errors import SandboxError
from .layout import NEXT_VERSION, STABLE_VERSION, Layout

Log = Callable[[str], None]

POOLS = {"api_v1": STABLE_VERSION, "api_v2": NEXT_VERSION}
HEALTH_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 3


def _healthz(port: int, timeout: float = 1.0) -> int | None:
    """HTTP status of GET /healthz, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _get(client: docker.DockerClient, name: str):
    try:
        return client.containers.get(name)
    except docker.errors.NotFound:
        return None


def _log_tail(container, lines: int = 20) -> str:
    try:
        return container.logs(tail=lines).decode(errors="replace").rstrip()
    except docker.errors.APIError as exc:
        return f"(logs unavailable: {exc.explanation or exc})"


def _desired(layout: Layout, pool: str, repository: str, database_url: str) -> dict:
    return {
        "image": f"{repository}:{POOLS[pool]}",
        "env": {"AURA_POOL": pool, "AURA_PORT": str(layout.pool_port(pool)),
                "AURA_DATABASE_URL": database_url},
        "labels": {"aura.pool": pool, "aura.sandbox": str(layout.state)},
    }


def _matches(container, want: dict, image_id: str) -> bool:
    """Running, on the same image *id* (tags move), with our env and labels."""
    attrs = container.attrs
    if not attrs.get("State", {}).get("Running"):
        return False
    if container.image is None or container.image.id != image_id:
        return False
    env = dict(e.split("=", 1) for e in (attrs.get("Config", {}).get("Env") or []) if "=" in e)
    if any(env.get(k) != v for k, v in want["env"].items()):
        return False
    labels = attrs.get("Config", {}).get("Labels") or {}
    if any(labels.get(k) != v for k, v in want["labels"].items()):
        return False
    return (attrs.get("HostConfig", {}).get("NetworkMode") or "") == "host"


def _remove(container, log: Log) -> None:
    with contextlib.suppress(docker.errors.APIError):  # already stopped, or gone
        container.stop(timeout=STOP_TIMEOUT_S)
    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True)
    log(f"containers: removed {container.name}")


def ensure_api_containers(client: docker.DockerClient, layout: Layout, repository: str,
                          database_url: str, log: Log) -> dict[str, str]:
    """Make api_v1/api_v2 run the baseline images and answer /healthz 200; {pool: container id}."""
    started: dict[str, Container] = {}
    result: dict[str, str] = {}
    for pool in POOLS:
        name = layout.container_name(pool)
        want = _desired(layout, pool, repository, database_url)
        try:
            image_id = model_id(client.images.get(want["image"]))
        except docker.errors.ImageNotFound:
            raise SandboxError(f"image {want['image']} not found (build the images first)") from None
        current = _get(client, name)
        if current is not None and _matches(current, want, image_id):
            log(f"containers: {name} already runs {want['image']}")
            started[pool] = current
            continue
        if current is not None:
            log(f"containers: {name} is stale ({current.status}); recreating it")
            _remove(current, log)
        port = layout.pool_port(pool)
        if _port_in_use(port):
            raise SandboxError(f"port 127.0.0.1:{port} for {pool} is already in use by another process")
        # restart policy "no" is Docker's own default, yet types-docker names only always/on-failure
        container = client.containers.run(  # type: ignore[call-overload]
            want["image"], detach=True, name=name, network_mode="host",
            environment=want["env"], labels=want["labels"], restart_policy={"Name": "no"},
        )
        log(f"containers: started {name} from {want['image']} on port {port}")
        started[pool] = container

    for pool, container in started.items():
        _wait_healthy(container, layout.pool_port(pool))
        result[pool] = model_id(container)
    return result


def _wait_healthy(container, port: int) -> None:
    url = f"http://127.0.0.1:{port}/healthz"
    t0 = time.monotonic()
    status = None
    while time.monotonic() - t0 < HEALTH_TIMEOUT_S:
        status = _healthz(port)
        if status == 200:
            return
        container.reload()
        if container.status in ("exited", "dead"):
            break  # no point waiting for a process that is gone
        time.sleep(0.1)
    waited = time.monotonic() - t0
    raise SandboxError(
        f"{container.name}: {url} not healthy after {waited:.1f} s (last status {status}, "
        f"container {container.status}); log tail:\n{_log_tail(container)}")


def remove_api_containers(client: docker.DockerClient, layout: Layout, log: Log) -> None:
    """Stop and remove exactly the two API containers of this layout; harmless if absent."""
    for pool in POOLS:
        container = _get(client, layout.container_name(pool))
        if container is not None:
            _remove(container, log)


def container_status(client: docker.DockerClient, layout: Layout) -> dict[str, dict]:
    """{pool: {name, exists, image (reference it was created from), image_id, running, healthy}}."""
    out: dict[str, dict] = {}
    for pool in POOLS:
        name = layout.container_name(pool)
        c = _get(client, name)
        if c is None:
            out[pool] = {"name": name, "exists": False, "image": None, "image_id": None,
                         "running": False, "healthy": False}
            continue
        running = bool(c.attrs.get("State", {}).get("Running"))
        out[pool] = {
            "name": name, "exists": True,
            "image": c.attrs.get("Config", {}).get("Image"),
            "image_id": c.attrs.get("Image"),
            "running": running,
            "healthy": running and _healthz(layout.pool_port(pool)) == 200,
        }
    return out
