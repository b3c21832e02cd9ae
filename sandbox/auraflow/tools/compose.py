"""The runbook's compose steps for a compose staging (the config's [compose] section).

A service's version is its tag in the env file (`API_V1_TAG=v1.0.0`: the service's name in
capitals, then _TAG); deploying a tag is setting it there and running `up -d SERVICE`, as the
runbook's `docker-compose -f docker-compose.staging.yml up -d` does. Compose recreates the container
when its files describe another one than runs (another image, or a container some other deploy made
with an override): the rollback never has to know how the fault got there.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from . import web
from .config import Config
from .errors import EXIT_FAILED, PreconditionError, ToolError

UP_TIMEOUT_S = 180


def configured(cfg: Config) -> bool:
    return isinstance(cfg.data.get("compose"), dict)


def tag_variable(service: str) -> str:
    return f"{service.upper()}_TAG"


def env_file(cfg: Config) -> Path:
    path = cfg.get("compose", "env_file", default=None)
    if path is None:
        directory = cfg.get("compose", "project_directory", default=None) or str(Path(_files(cfg)[0]).parent)
        path = str(Path(directory) / ".env")
    return Path(path)


def _files(cfg: Config) -> list[str]:
    files = cfg.data["compose"].get("files")
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        raise PreconditionError(f"config {cfg.path}: [compose] files must be a list of paths")
    return files


def argv(cfg: Config, *args: str) -> list[str]:
    out = cfg.command("compose", "command")
    if (name := cfg.get("compose", "project_name", default=None)) is not None:
        out += ["--project-name", name]
    if (directory := cfg.get("compose", "project_directory", default=None)) is not None:
        out += ["--project-directory", directory]
    out += ["--env-file", str(env_file(cfg))]
    for f in _files(cfg):
        out += ["-f", f]
    return [*out, *args]


def read_tag(cfg: Config, service: str) -> str | None:
    try:
        text = env_file(cfg).read_text()
    except FileNotFoundError:
        return None
    found = re.search(rf"^{re.escape(tag_variable(service))}=(.*)$", text, re.M)
    return found.group(1).strip() if found else None


def set_tag(cfg: Config, service: str, tag: str) -> str | None:
    """Write `SERVICE_TAG=tag` into the env file (only that line changes); the previous tag."""
    path = env_file(cfg)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise PreconditionError(f"[compose] env file {path} not found; nothing changed") from None
    previous = read_tag(cfg, service)
    line = f"{tag_variable(service)}={tag}"
    pattern = re.compile(rf"^{re.escape(tag_variable(service))}=.*$", re.M)
    text = pattern.sub(line, text) if pattern.search(text) else text.rstrip("\n") + f"\n{line}\n"
    tmp = path.with_name(path.name + ".rollback.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return previous


def up(cfg: Config, service: str) -> None:
    try:
        done = subprocess.run(argv(cfg, "up", "-d", service), capture_output=True, text=True,
                              timeout=UP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise ToolError(f"compose up -d {service} did not finish in {UP_TIMEOUT_S} s", EXIT_FAILED) from None
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise ToolError(f"compose up -d {service} failed: {tail}", EXIT_FAILED)


def deploy(cfg: Config, service: str, tag: str, health_url: str, timeout_s: float, log) -> str | None:
    """Set the service's tag and `up -d` it, then wait for its own /healthz; if it never gets
    healthy, the previous tag is put back and deployed again, and the deploy fails. The previous tag."""
    previous = set_tag(cfg, service, tag)
    log(f"compose: {tag_variable(service)}={tag} in {env_file(cfg)} (was {previous}); up -d {service}")
    up(cfg, service)
    ok, resp = web.wait_healthy(health_url, timeout_s)
    if ok:
        return previous
    why = f"{health_url} not healthy after {timeout_s:.0f} s: {web.describe(resp)}"
    if previous is not None and previous != tag:
        set_tag(cfg, service, previous)
        up(cfg, service)
        raise ToolError(f"{service} on {tag}: {why}; {tag_variable(service)}={previous} deployed again", EXIT_FAILED)
    raise ToolError(f"{service} on {tag}: {why}", EXIT_FAILED)
