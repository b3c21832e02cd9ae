"""What the drill ran with, for the report's Environment table.

Tool versions (nginx -v; the container engine's version through the Docker SDK when a URL is
given — Podman's service answers it too; Python; pytest and pytest-html), the image each service
container runs, and the suite's git revision. Every probe is bounded in time and never raises: a
value it cannot get reads "unavailable: <why>". Every value is redacted (an engine URL or an image
reference can carry credentials).

The fixture that builds the RunContext calls `collect_for_config(cfg)` (or `collect(...)`) and
keeps the result in `RunContext.environment_info`.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import shlex
import subprocess
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from helpers.engine_api import Engine
from helpers.front import Front
from helpers.redact import one_line
from helpers.wait import Wait

__all__ = ["collect", "collect_for_config", "engine_version", "git_revision", "image_tags", "nginx_version",
           "package_version", "python_version"]

TIMEOUT_S = 5.0


def _safe(fn: Callable[[], str]) -> str:
    try:
        return one_line(fn(), limit=300)
    except Exception as e:  # the report shows why, the run goes on
        return one_line(f"unavailable: {type(e).__name__}: {e}", limit=300)


def python_version() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


def package_version(name: str) -> str:
    return importlib.metadata.version(name)


def nginx_version(nginx: str = "nginx") -> str:
    """`nginx -v` prints `nginx version: nginx/1.22.1` on stderr."""
    out = subprocess.run([nginx, "-v"], capture_output=True, text=True, timeout=TIMEOUT_S)
    return _nginx_v_answer(out.stdout, out.stderr)


def _nginx_v_answer(stdout: str, stderr: str) -> str:
    text = (stderr or stdout).strip()
    return text.split(":", 1)[1].strip() if text.startswith("nginx version:") else text


def engine_version(engine: Engine) -> str:
    # The run's one /version answer per engine (the adapter asks it once).
    v = engine.version()
    components = v.get("Components") or []
    name = components[0].get("Name") if components else "Docker Engine"
    return f"{name} {v.get('Version', '?')} (API {v.get('ApiVersion', '?')})"


def image_tags(engine: Engine, services: Mapping[str, str]) -> dict[str, str]:
    """{service: "image reference (image id)"} for each service container."""
    out: dict[str, str] = {}
    for service, container_name in services.items():
        def one(name: str = container_name) -> str:
            info = engine.container_info(name)
            if info is None:
                return "unavailable: no such container"
            return f"{info.ref or '?'} ({info.image_id.removeprefix('sha256:')[:12]})"
        out[service] = _safe(one)
    return out


def git_revision(repo_dir: str | os.PathLike[str]) -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo_dir), *args], capture_output=True, text=True,
                              timeout=TIMEOUT_S, check=True).stdout.strip()
    rev = git("rev-parse", "--short=12", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{rev} (modified)" if dirty else rev


# Values being asked on a thread (collect(..., background=True)); finish_pending() waits for them.
_PENDING: list[threading.Thread] = []
PENDING_TEXT = "unavailable: not answered before the report was written"


def _later(info: dict[str, str], key: str, fn: Callable[[], str]) -> None:
    """info[key] = _safe(fn), asked on a daemon thread: the key keeps its place in the table and
    reads PENDING_TEXT until the answer comes."""
    info[key] = PENDING_TEXT

    def ask() -> None:
        info[key] = _safe(fn)
    thread = threading.Thread(target=ask, name=f"environment {key}", daemon=True)
    _PENDING.append(thread)
    thread.start()


def finish_pending(timeout_s: float = TIMEOUT_S) -> None:
    """Wait (at most `timeout_s` in all) for the values collect(background=True) is still asking."""
    left = Wait("the environment's answers", timeout_s).start()
    while _PENDING:
        _PENDING.pop().join(left.remaining())


def collect(*, nginx: str | None = None, nginx_v: Callable[[], str] | None = None,
            engine: Engine | None = None,
            services: Mapping[str, str] | None = None,
            repo_dir: str | os.PathLike[str] | None = None, background: bool = False,
            into: dict[str, str] | None = None) -> dict[str, str]:
    """`background`: the values that do not change while drills run (the engine's /version, which
    Podman takes 0.35-0.4 s to answer, `nginx -v`, the git revision) are asked on threads and land
    in the returned dict when they come (finish_pending() waits for them); the image each service
    container runs is read at once, before any drill changes it. `into`: added to this dict (in
    place) and returned. `nginx_v`: how to ask `nginx -v` (default: run `nginx` here)."""
    info: dict[str, str] = {} if into is None else into
    put = (lambda key, fn: _later(info, key, fn)) if background else (lambda key, fn: info.__setitem__(key, _safe(fn)))
    info["Python"] = _safe(python_version)
    info["pytest"] = _safe(lambda: package_version("pytest"))
    info["pytest-html"] = _safe(lambda: package_version("pytest-html"))
    if nginx:
        put("nginx", nginx_v or (lambda: nginx_version(nginx)))
    if engine is not None:
        put("Container engine", lambda: engine_version(engine))
        if services:
            try:
                tags = image_tags(engine, services)
            except Exception as e:
                why = one_line(f"unavailable: {type(e).__name__}: {e}", limit=300)
                tags = {s: why for s in services}
            for service, value in tags.items():
                info[f"Image {service}"] = value
    if repo_dir is not None:
        put("Suite revision", lambda: git_revision(repo_dir))
    return info


def collect_for_config(cfg: Any, front: Front, repo_dir: str | os.PathLike[str] | None = None, *,
                       engine: Engine | None = None, background: bool = False) -> dict[str, str]:
    """`collect` for a helpers.config.TargetConfig: nginx from `[nginx] test_cmd`'s first word,
    asked on the target's `front` (the host nginx runs on), and what the front says of itself."""
    try:
        nginx = shlex.split(cfg.nginx.test_cmd)[0]
    except (ValueError, IndexError, AttributeError):
        nginx = None
    services = dict(cfg.services.items()) if hasattr(cfg, "services") else None
    # One dict, built in order and filled in place: values asked in the background land in it.
    info = {"Target": one_line(f"{cfg.target.name} ({cfg.target.environment})"),
            "Base URL": one_line(cfg.target.base_url)}

    def front_nginx() -> str:
        r = front.run(f"{shlex.quote(nginx or 'nginx')} -v", timeout=TIMEOUT_S)
        return _nginx_v_answer(r.stdout, r.stderr)
    collect(nginx=nginx, nginx_v=front_nginx, engine=engine, services=services,
            repo_dir=repo_dir if repo_dir is not None else Path(__file__).resolve().parents[2],
            background=background, into=info)
    info.update(front.environment_rows())
    info["Image repository"] = one_line(f"{cfg.docker.image} (stable {cfg.docker.stable_tag}, "
                                        f"bad {cfg.docker.bad_tag})")
    return info
