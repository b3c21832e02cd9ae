"""The two API containers of the baseline: api_v1 on the stable release, api_v2 on the next one.

Both use host networking (PLATFORM.md: the engine's default bridge does not work here) and listen
on 127.0.0.1:<pool port>. They carry the settings a real service has, so that a drill that loses one
is seen losing it: their own entrypoint and command, a non-root user, all capabilities dropped, a
read-only root filesystem with a tmpfs, a named volume and a read-only bind mount, a pids limit,
memory and CPU limits, explicit ulimits, a healthcheck, a log driver with options, a stop signal and
timeout, no-new-privileges, an OOM score and labels (SPEC_VERSION names this set; README "Docker
Engine and Podman" says what each engine makes of it).

A killed run can leave a container behind (stopped, or running an image a drill left it on):
ensure_* keeps a container only if it matches exactly what the baseline asks for (the spec label
included) and recreates it otherwise. Health is the app's own /healthz, polled from here: Podman's
container healthchecks need systemd timers and never leave `starting` on this machine.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

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


def _healthz(port: int, timeout: float = 1.0, host: str = "127.0.0.1") -> int | None:
    """HTTP status of GET /healthz, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


def _port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


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


SPEC_LABEL = "aura.spec"  # a digest of the settings below: a container made from other settings is stale
SPEC_VERSION = "2"


def conf_dir(layout: Layout) -> Path:
    """What the API containers get read-only at /etc/aura (a real service's config folder)."""
    return layout.state / "api-conf"


def volume_name(layout: Layout, pool: str) -> str:
    return f"{layout.container_name(pool)}-data"


def _settings(layout: Layout, pool: str) -> dict:
    """The container's own settings besides image, name, env and labels: `config` for the
    Engine API's create, `host` for its HostConfig (the docker SDK's low-level names)."""
    port = layout.pool_port(pool)
    probe = f"__import__('urllib.request').request.urlopen('http://{layout.bind}:{port}/healthz',timeout=2)"
    return {
        "config": {
            "entrypoint": ["/usr/bin/python3", "-u"], "command": ["/app/aura_api.py"], "working_dir": "/app",
            "user": "65534:65534", "stop_signal": "SIGTERM", "stop_timeout": STOP_TIMEOUT_S,
            # Podman 4.3 splits a healthcheck's arguments at spaces: this one has none.
            "healthcheck": {"test": ["CMD", "/usr/bin/python3", "-c", probe], "interval": 30_000_000_000,
                            "timeout": 3_000_000_000, "retries": 3, "start_period": 2_000_000_000},
        },
        "host": {
            "network_mode": "host", "restart_policy": {"Name": "no"},
            "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"], "read_only": True,
            "tmpfs": {"/tmp": "rw,size=16m"}, "pids_limit": 64, "mem_limit": "256m", "nano_cpus": 1_000_000_000,
            "oom_score_adj": 100,
            # Both limits or none: Podman replaces its default_ulimits by what a create names, and a
            # runtime without the other one fails on this kernel (PLATFORM.md).
            "ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 1024}, {"Name": "nproc", "Soft": 1024, "Hard": 1024}],
            "log_config": {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "2"}},
            "binds": {str(conf_dir(layout)): {"bind": "/etc/aura", "mode": "ro"}},
            "mounts": [{"Type": "volume", "Source": volume_name(layout, pool), "Target": "/var/lib/aura"}],
        },
    }


def _create(client: docker.DockerClient, name: str, want: dict):
    from docker.types import LogConfig, Mount, Ulimit

    host = dict(want["settings"]["host"])
    host["ulimits"] = [Ulimit(name=u["Name"], soft=u["Soft"], hard=u["Hard"]) for u in host["ulimits"]]
    host["log_config"] = LogConfig(type=host["log_config"]["Type"], config=host["log_config"]["Config"])
    host["mounts"] = [Mount(m["Target"], m["Source"], type=m["Type"]) for m in host["mounts"]]
    created = client.api.create_container(want["image"], name=name, environment=want["env"], labels=want["labels"],
                                          detach=True, host_config=client.api.create_host_config(**host),
                                          **want["settings"]["config"])
    client.api.start(created["Id"])
    return client.containers.get(created["Id"])


def _desired(layout: Layout, pool: str, repository: str, database_url: str, api_token: str) -> dict:
    settings = _settings(layout, pool)
    spec = hashlib.sha256(json.dumps([SPEC_VERSION, settings], sort_keys=True).encode()).hexdigest()[:16]
    return {
        "image": f"{repository}:{POOLS[pool]}",
        "env": {"AURA_POOL": pool, "AURA_PORT": str(layout.pool_port(pool)),
                "AURA_DATABASE_URL": database_url, "AURA_API_TOKEN": api_token,
                "AURA_STATUS_POOL": "1" if layout.status_pool else "0", "AURA_BIND": layout.bind},
        "labels": {"aura.pool": pool, "aura.sandbox": str(layout.state), SPEC_LABEL: spec,
                   "org.opencontainers.image.vendor": "Aura Flow"},
        "settings": settings,
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
                          database_url: str, log: Log, api_token: str = "") -> dict[str, str]:
    """Make api_v1/api_v2 run the baseline images and answer /healthz 200; {pool: container id}.
    `api_token` is the bearer token their POST /api/orders and /metrics want (the sandbox's secret)."""
    started: dict[str, Container] = {}
    result: dict[str, str] = {}
    for pool in POOLS:
        name = layout.container_name(pool)
        want = _desired(layout, pool, repository, database_url, api_token)
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
        if _port_in_use(port, layout.bind):
            raise SandboxError(f"port {layout.bind}:{port} for {pool} is already in use by another process")
        conf_dir(layout).mkdir(parents=True, exist_ok=True)
        conf_dir(layout).chmod(0o755)  # read by the containers' user (nobody)
        (conf_dir(layout) / "aura.conf").write_text("# read-only configuration of the sandbox's API containers\n")
        container = _create(client, name, want)
        log(f"containers: started {name} from {want['image']} on port {port}")
        started[pool] = container

    for pool, container in started.items():
        _wait_healthy(container, layout.pool_port(pool), layout.bind)
        result[pool] = model_id(container)
    return result


def _wait_healthy(container, port: int, host: str = "127.0.0.1") -> None:
    url = f"http://{host}:{port}/healthz"
    t0 = time.monotonic()
    status = None
    while time.monotonic() - t0 < HEALTH_TIMEOUT_S:
        status = _healthz(port, host=host)
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
    """Stop and remove exactly the two API containers of this layout and their volumes; harmless
    if absent."""
    for pool in POOLS:
        container = _get(client, layout.container_name(pool))
        if container is not None:
            _remove(container, log)
        try:
            client.volumes.get(volume_name(layout, pool)).remove(force=True)
            log(f"containers: removed volume {volume_name(layout, pool)}")
        except docker.errors.NotFound:
            pass


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
            "healthy": running and _healthz(layout.pool_port(pool), host=layout.bind) == 200,
        }
    return out
