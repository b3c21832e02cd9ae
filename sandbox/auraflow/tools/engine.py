"""The API service's container through the Docker Engine API ([docker] url): images and recreate.

The Docker SDK has no "change this container's image" (PLATFORM.md), so an image rollback is a
recreate: inspect the old container, keep everything that was set for *it* (clone.py: its whole
definition but for what the engine or the old image filled in), stop it and set it aside under a
temporary name, create and start the new one, wait for its own /healthz, then drop the old one — or, if the
new one never gets healthy, remove it and put the old one back exactly as it was.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import web
from .clone import Spec, create_from, spec_of
from .errors import EXIT_FAILED, PreconditionError, ToolError, VerifyError

STOP_TIMEOUT_S = 5
PREV_SUFFIX = "-rollback-prev"


def connect(url: str, timeout: int = 30):
    """A DockerClient for [docker] url that has answered a ping; PreconditionError otherwise."""
    import docker
    import docker.errors

    try:
        client = docker.DockerClient(base_url=url, timeout=timeout)
        client.ping()
        return client
    except docker.errors.DockerException as exc:
        raise PreconditionError(f"Docker engine at {url} does not answer: {_first(exc)}") from None
    except Exception as exc:  # requests/urllib3 errors surface here too
        raise PreconditionError(f"Docker engine at {url} does not answer: {_first(exc)}") from None


def _first(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    line = text.splitlines()[0]
    # docker-py wraps the real reason in long nested reprs; keep the tail that says why.
    for marker in ("Connection refused", "No such file or directory", "Name or service not known",
                   "timed out", "Permission denied"):
        if marker in text:
            return marker
    return line[:200]


# -- images -------------------------------------------------------------------------------------
@dataclass
class Release:
    tag: str            # what was asked for (may be "stable")
    ref: str            # repository:tag to create from (the version tag when one has the same ID)
    image_id: str
    version: str        # the image's ENV AURA_VERSION (or a tag found in [releases])


def image_env(attrs: dict) -> dict[str, str]:
    env = (attrs.get("Config") or {}).get("Env") or []
    return dict(e.split("=", 1) for e in env if "=" in e)


def resolve_image(client, repository: str, tag: str, releases: dict[str, str]) -> Release:
    """`repository:tag` must exist in the engine: checked before anything is touched."""
    import docker.errors

    ref = f"{repository}:{tag}"
    try:
        image = client.images.get(ref)
    except docker.errors.ImageNotFound:
        known = sorted(t.rsplit(":", 1)[1] for img in _images(client, repository) for t in img.tags
                       if t.startswith(repository + ":"))
        hint = f"; tags there: {', '.join(known)}" if known else ""
        raise PreconditionError(f"unknown tag {tag!r}: image {ref} not found in the engine{hint}") from None
    except docker.errors.APIError as exc:
        raise PreconditionError(f"cannot inspect image {ref}: {_first(exc)}") from None
    version = image_env(image.attrs).get("AURA_VERSION", "")
    if not version:  # no ENV: a release tag carried by the same image
        same = [t.rsplit(":", 1)[1] for t in image.tags if t.startswith(repository + ":")]
        version = next((t for t in same if t in releases), tag)
    version_ref = f"{repository}:{version}"
    create_ref = version_ref if version_ref in image.tags else ref
    return Release(tag=tag, ref=create_ref, image_id=image.id, version=version)


def _images(client, repository: str) -> list:
    try:
        return client.images.list(name=repository)
    except Exception:
        return []


def _bare(image_id: str) -> str:
    return (image_id or "").split(":", 1)[-1]


def same_image(container, image_id: str) -> bool:
    """Compare image IDs, never tag strings (`:stable` and `:v1.0.0` are one image)."""
    return _bare(container.attrs.get("Image", "")) == _bare(image_id)


# -- containers ---------------------------------------------------------------------------------
def get_container(client, name: str):
    import docker.errors

    try:
        return client.containers.get(name)
    except docker.errors.NotFound:
        return None


def log_tail(container, lines: int = 5) -> str:
    try:
        return container.logs(tail=lines).decode("utf-8", "replace").rstrip()
    except Exception as exc:
        return f"(log unavailable: {_first(exc)})"


def _quiet_remove(container) -> None:
    with contextlib.suppress(Exception):
        container.remove(force=True)


def _wait_healthy(container, health_url: str, timeout_s: float) -> tuple[bool, str]:
    def exited() -> str | None:
        try:
            container.reload()
        except Exception:
            return "container disappeared"
        if container.status in ("exited", "dead"):
            return f"container {container.status}"
        return None

    ok, resp = web.wait_healthy(health_url, timeout_s, interval_s=0.1, give_up=exited)
    why = resp.error or web.describe(resp)
    body = resp.json() if resp.status else None
    if isinstance(body, dict) and body.get("reason"):
        why += f": {body['reason']}"
    return ok, why


def recover_interrupted(client, name: str, say: Callable[[str], None], health_url: str | None = None,
                        timeout_s: float = 30.0) -> bool:
    """Put back the original container a killed rollback left set aside; True if it did.

    `recreate` stops the original and renames it `<name>-rollback-prev` before it creates the
    new one; a run killed from then on (say while it waits for the new one's /healthz) leaves
    that stopped container as the only copy of the original, and under `<name>` a new container
    that was never proven healthy. The original wins: the container now called `<name>` is
    removed, the original renamed back and started, and planning starts again from there.
    """
    import docker.errors

    prev = get_container(client, name + PREV_SUFFIX)
    if prev is None:
        return False
    current = get_container(client, name)
    try:
        if current is not None and current.id != prev.id:
            say(f"found {prev.name}, set aside by an interrupted rollback: removing {name} "
                f"({current.attrs.get('Config', {}).get('Image', '?')}, never proven healthy) "
                f"and putting the original back")
            current.remove(force=True)
        else:
            say(f"found {prev.name}, set aside by an interrupted rollback: putting it back as {name}")
        prev.rename(name)
        prev.reload()
        if prev.status != "running":
            prev.start()
    except docker.errors.DockerException as exc:
        raise ToolError(f"could not put back {prev.name} (left by an interrupted rollback) as {name}: "
                        f"{_first(exc)}", EXIT_FAILED) from None
    if health_url:
        ok, why = _wait_healthy(prev, health_url, timeout_s)
        say(f"{name} put back" + (" and healthy" if ok else f", not healthy yet ({why})"))
    return True


def recreate(client, container, release: Release, health_url: str, timeout_s: float,
             say: Callable[[str], None]) -> Spec:
    """Replace `container` with one from `release`; put it back if the new one is not healthy.

    Returns the old container's Spec (what was replaced). Raises ToolError(EXIT_FAILED) after a
    put-back, VerifyError if the new container is healthy but reports another version.
    """
    old = spec_of(client, container)
    name = old.name
    say(f"replacing {old.describe()} with {release.ref}")
    try:
        container.stop(timeout=STOP_TIMEOUT_S)
        container.rename(name + PREV_SUFFIX)
    except Exception as exc:  # nothing replaced yet: bring the old one back up as it was
        restarted = "it was restarted"
        try:
            container.reload()
            if container.name != name:
                container.rename(name)
            container.start()
        except Exception as again:
            restarted = f"restarting it failed too: {_first(again)}"
        raise ToolError(f"could not set {name} aside: {_first(exc)}; {restarted}", EXIT_FAILED) from None
    new = None
    problem = ""
    t0 = time.monotonic()
    try:
        new = create_from(client, old, release.ref)
        new.start()
        ok, why = _wait_healthy(new, health_url, timeout_s)
        if not ok:
            problem = (f"{release.ref} did not get healthy at {health_url} within "
                       f"{timeout_s:.0f} s ({why})")
            tail = log_tail(new, 2)
            if tail:
                problem += "\n  its log ends: " + tail.replace("\n", "\n  ")
    except Exception as exc:  # create/start failed: same put-back path
        problem = f"could not start {release.ref}: {_first(exc)}"
    if not problem:
        _quiet_remove(container)
        say(f"{name} healthy on {release.ref} after {time.monotonic() - t0:.1f} s")
        return old
    # Put the previous container back exactly as it was.
    if new is not None:
        _quiet_remove(new)
    else:
        leftover = get_container(client, name)
        if leftover is not None and leftover.id != container.id:
            _quiet_remove(leftover)
    try:
        container.rename(name)
        container.start()
        ok, why = _wait_healthy(container, health_url, max(timeout_s, 20))
        back = f"previous container {old.describe()} put back" + ("" if ok else f", but not healthy ({why})")
    except Exception as exc:
        back = f"PUTTING BACK {old.describe()} FAILED: {_first(exc)}; it is stopped as {name + PREV_SUFFIX}"
    raise ToolError(f"{problem}\n{back}", EXIT_FAILED)


def check_version(health_base: str, version: str) -> None:
    """The container's own /status must report the version we deployed."""
    resp = web.get(health_base + "/status")
    body = resp.json() if resp.status == 200 else None
    got = body.get("version") if isinstance(body, dict) else None
    if got != version:
        raise VerifyError(f"{health_base}/status reports version {got!r}, expected {version!r} "
                          f"({web.describe(resp)})")
