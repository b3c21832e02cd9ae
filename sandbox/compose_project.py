"""The sandbox's API services as the runbook's Docker Compose project.

In the state folder: `docker-compose.staging.yml` (the team's file), `.env` (each service's image
tag: API_V1_TAG, API_V2_TAG, and the image repository) and `api-conf/database.url` (the database
URL, a secret: mode 0640, group nogroup, read by the services' user). `up -d` deploys them;
`container_name:` keeps the [services] names, and the named volumes keep the names the raw-engine
layout gives them, so `down` removes the same things whichever way they were made.

The services carry what real services carry (the compose spec's own keys): entrypoint, command,
working_dir, a non-root user, environment, read_only with a tmpfs, a named volume and a read-only
bind mount, cap_drop and security_opt, ulimits, pids_limit, mem_limit and cpus, stop_signal and
stop_grace_period, logging with options, oom_score_adj, restart, a healthcheck, labels, and
`network_mode: host` (PLATFORM.md: only loopback works here). The database URL is a secret file on
the read-only config mount (AURA_DATABASE_URL_FILE): an `env_file:` would do, but Compose 2.22+
then hashes the service in `config --hash` otherwise than in its container's config-hash label
(compose#14001), and the suite's drift check compares the two. Health is polled on the app's
/healthz from here: never `up --wait`, nor `depends_on: condition: service_healthy` (Podman here
runs no healthchecks).

The compose service names are the [services] keys (api_v1, api_v2) and each one's tag variable is
its name in capitals with _TAG: the runbook's scripts (rollback.sh, deploy.sh) set that variable
in `.env` and run `up -d` for the service.
"""
from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors

from .containers import POOLS, STOP_TIMEOUT_S, _get, _remove, _wait_healthy, conf_dir, volume_name
from .errors import SandboxError
from .layout import Layout
from .private_file import write_private

Log = Callable[[str], None]

COMPOSE_FILE = "docker-compose.staging.yml"
ENV_FILE = ".env"
SECRET_FILE = "database.url"
TOKEN_FILE = "api_token"  # the API's bearer token, beside the database URL
NOGROUP = 65534
UP_TIMEOUT_S = 180
PROJECT_LABEL = "com.docker.compose.project"


def enabled(hosts: bool) -> bool:
    """AURA_SANDBOX_COMPOSE=0 gives the raw-engine layout (containers made through the Engine API,
    no [compose]); the default is the compose project. The hosts layout is raw for now."""
    raw = os.environ.get("AURA_SANDBOX_COMPOSE", "1").strip()
    if raw not in ("0", "1"):
        raise SandboxError(f"AURA_SANDBOX_COMPOSE={raw!r} is not 0 or 1")
    return raw == "1" and not hosts


def project_name(layout: Layout) -> str:
    return f"{layout.container_prefix}-staging".lower()


def files(layout: Layout) -> dict[str, Path]:
    return {"compose": layout.state / COMPOSE_FILE, "env": layout.state / ENV_FILE,
            "secret": conf_dir(layout) / SECRET_FILE}


def tag_variable(service: str) -> str:
    return f"{service.upper()}_TAG"


def _service(layout: Layout, pool: str) -> str:
    port = layout.pool_port(pool)
    probe = f"__import__('urllib.request').request.urlopen('http://127.0.0.1:{port}/healthz',timeout=2)"
    return f"""\
  {pool}:
    image: ${{AURA_IMAGE}}:${{{tag_variable(pool)}}}
    container_name: {layout.container_name(pool)}
    network_mode: host
    restart: "no"
    entrypoint: ["/usr/bin/python3", "-u"]
    command: ["/app/aura_api.py"]
    working_dir: /app
    user: "65534:65534"
    environment:
      AURA_DATABASE_URL_FILE: /etc/aura/{SECRET_FILE}
      AURA_API_TOKEN_FILE: /etc/aura/{TOKEN_FILE}
      AURA_STATUS_POOL: "{'1' if layout.status_pool else '0'}"
      AURA_POOL: {pool}
      AURA_PORT: "{port}"
    labels:
      aura.pool: {pool}
      aura.sandbox: "{layout.state}"
      org.opencontainers.image.vendor: Aura Flow
    read_only: true
    tmpfs:
      - /tmp:size=16m
    volumes:
      - type: volume
        source: {pool}_data
        target: /var/lib/aura
      - type: bind
        source: {conf_dir(layout)}
        target: /etc/aura
        read_only: true
    cap_drop: [ALL]
    security_opt: [no-new-privileges]
    ulimits:
      nofile: {{soft: 1024, hard: 1024}}
      nproc: {{soft: 1024, hard: 1024}}
    pids_limit: 64
    mem_limit: 256m
    cpus: 1.0
    oom_score_adj: 100
    stop_signal: SIGTERM
    stop_grace_period: {STOP_TIMEOUT_S}s
    logging:
      driver: json-file
      options: {{max-size: 1m, max-file: "2"}}
    healthcheck:
      test: ["CMD", "/usr/bin/python3", "-c", "{probe}"]
      interval: 30s
      timeout: 3s
      retries: 3
      start_period: 2s
"""


def compose_text(layout: Layout) -> str:
    services = "".join(_service(layout, pool) for pool in POOLS)
    volumes = "".join(f"  {pool}_data:\n    name: {volume_name(layout, pool)}\n" for pool in POOLS)
    return (f"# Aura Flow staging: the API services (written by `python -m sandbox up`).\n"
            f"# Deploy: docker compose -f {COMPOSE_FILE} up -d; each service's tag is in {ENV_FILE}.\n"
            f"name: {project_name(layout)}\nservices:\n{services}volumes:\n{volumes}")


def env_text(repository: str) -> str:
    tags = "".join(f"{tag_variable(pool)}={version}\n" for pool, version in POOLS.items())
    return f"AURA_IMAGE={repository}\n{tags}"


def write_files(layout: Layout, repository: str, database_url: str, api_token: str = "") -> dict[str, Path]:
    """The project's files at their baseline (the same bytes for the same layout)."""
    paths = files(layout)
    paths["compose"].write_text(compose_text(layout))
    paths["env"].write_text(env_text(repository))
    folder = conf_dir(layout)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # read by the containers' user (nobody)
    (folder / "aura.conf").write_text("# read-only configuration of the sandbox's API containers\n")
    write_private(paths["secret"], database_url + "\n")
    os.chown(paths["secret"], -1, NOGROUP)
    paths["secret"].chmod(0o640)  # the services' user (nobody:nogroup) reads it; no one else
    token = folder / TOKEN_FILE   # the API's bearer token, as the database URL: a mounted secret
    write_private(token, api_token + "\n")
    os.chown(token, -1, NOGROUP)
    token.chmod(0o640)
    return paths


def command_words(binary: list[str], docker_url: str) -> list[str]:
    """The compose command as the config's `[compose] command` names it: it carries the engine it
    acts on (DOCKER_HOST), as a team's command carries what it needs to find its target."""
    return ["/usr/bin/env", f"DOCKER_HOST={docker_url}", *binary]


def project_args(layout: Layout) -> list[str]:
    paths = files(layout)
    return ["--project-name", project_name(layout), "--project-directory", str(layout.state),
            "--env-file", str(paths["env"]), "-f", str(paths["compose"])]


def run(words: list[str], layout: Layout, args: list[str], timeout: float = UP_TIMEOUT_S) -> str:
    argv = [*words, *project_args(layout), *args]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise SandboxError(f"compose: `{shlex.join(args)}` did not finish in {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = "; ".join(done.stderr.strip().splitlines()[-3:]) or f"exit {done.returncode}"
        raise SandboxError(f"compose: `{shlex.join(args)}` failed: {tail}")
    return done.stdout


def _foreign_containers(client: docker.DockerClient, layout: Layout, log: Log) -> None:
    """A container under a service's name that is not this project's (the raw layout's, or one a
    killed drill of the raw suite left): compose would refuse the name, so it goes."""
    for pool in POOLS:
        found = _get(client, layout.container_name(pool))
        if found is not None and (found.labels or {}).get(PROJECT_LABEL) != project_name(layout):
            log(f"compose: {found.name} is not the compose project's; removing it")
            _remove(found, log)


def ensure(client: docker.DockerClient, layout: Layout, binary: list[str], docker_url: str, repository: str,
           database_url: str, log: Log, api_token: str = "") -> None:
    """The project at its baseline: files rewritten, `up -d` (compose recreates whatever differs
    from them: a drill's override, an edited .env), then each service's /healthz waited for here."""
    write_files(layout, repository, database_url, api_token)
    _foreign_containers(client, layout, log)
    words = command_words(binary, docker_url)
    run(words, layout, ["up", "-d", "--remove-orphans", *POOLS])
    log(f"compose: project {project_name(layout)} up ({', '.join(POOLS)})")
    for pool in POOLS:
        container = _get(client, layout.container_name(pool))
        if container is None:
            raise SandboxError(f"compose: up -d left no container {layout.container_name(pool)}")
        _wait_healthy(container, layout.pool_port(pool))


def config_section(layout: Layout, binary: list[str], docker_url: str) -> dict:
    """The target config's [compose]: how the suite (and the runbook's scripts) run this project."""
    paths = files(layout)
    return {"command": shlex.join(command_words(binary, docker_url)), "files": [str(paths["compose"])],
            "project_name": project_name(layout), "project_directory": str(layout.state),
            "env_file": str(paths["env"])}
