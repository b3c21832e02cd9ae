"""The suite's own Docker means: swap a service container's image, put the old one back, look.

The Docker Engine API has no "change this container's image": a container is recreated. What a
recreate keeps is what the *container* said beyond its image — its name, the environment and labels
it set itself (entries equal to the old image's own `Config.Env` / `Config.Labels` are the image's
and give way to the new image's), its network mode and published ports, its restart policy, its
bind mounts and extra hosts. Command, entrypoint and working directory come from the new image, as
they would after a real deploy. Health is not waited for here: the bad-image fault wants to watch
the service fail, the restore watches `/healthz` itself.

The swap is done so that a failure leaves the old container in place: stop it, rename it aside,
create and start the new one under the name, and only then remove the old; if creating or starting
fails, the new one is removed and the old one gets its name back and is started again.

Engine quirks handled (checked against Podman 4.3's Docker API):
- `Ulimits` from inspect cannot be passed back to create under Podman (`RLIMIT_NOFILE` is not a
  ulimit name it accepts): they are not copied; the engine's defaults apply.
- Podman adds `PATH`, `TERM`, `container`, `HOME`, `HOSTNAME` to every container's env: those are
  the engine's, not the container's, and are not copied (the engine adds them again).
- Podman reports image IDs with or without `sha256:`; IDs are always returned with it.
- Creating from a bare image ID: Podman then reports one of the image's tags as the container's
  reference, Docker the ID itself. `restore_image` therefore creates from the original reference
  whenever that still resolves to the wanted ID, so the restored container reads as it did.

Every call goes through a client with a timeout; every failure is a `DockerRuntimeError` whose
message is one line naming the container or image.
"""
from __future__ import annotations

import functools
import os
import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from helpers.redact import one_line, redact

__all__ = ["ENGINE_ENV_KEYS", "SUITE_LABEL", "ContainerInfo", "ContainerSettings", "DockerRuntimeError",
           "Leftover", "RecreateResult", "api_version", "container_id", "container_info",
           "container_settings", "engine_version", "image_env", "image_id_of", "leftovers_beside",
           "logs_tail", "normalize_image_id", "own_entries", "ping", "recreate_with_image",
           "remove_container", "restore_image"]

API_TIMEOUT_S = 30          # per engine request; a stop adds its own stop_timeout to this
# A container the suite creates as a fault carries this label; with the set-aside name pattern it is
# how the suite tells its own leftovers (a run killed mid-swap) from anyone else's. A container the
# restore creates does not: staging gets back exactly what it had.
SUITE_LABEL = "aura-drill.created-by"
SUITE_LABEL_VALUE = "aura-drill-suite"
ASIDE_INFIX = "-aura-old-"
ENGINE_ENV_KEYS = frozenset({"PATH", "TERM", "container", "HOME", "HOSTNAME"})
_HEX_ID = re.compile(r"[0-9a-f]{64}")


class DockerRuntimeError(RuntimeError):
    """One line: what was being done, to which container or image, and what the engine said."""


def normalize_image_id(image_id: str) -> str:
    """`sha256:<64 hex>` whatever form the engine used (Podman may omit the algorithm)."""
    image_id = image_id.strip()
    return "sha256:" + image_id if _HEX_ID.fullmatch(image_id) else image_id


def _env_dict(entries: Sequence[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in entries or ():
        key, _, value = entry.partition("=")
        out[key] = value
    return out


def own_entries(container: Mapping[str, str], image: Mapping[str, str],
                drop_keys: frozenset[str] = frozenset()) -> dict[str, str]:
    """Entries the container set itself: those not equal to its image's, minus `drop_keys`."""
    return {k: v for k, v in container.items()
            if k not in drop_keys and not (k in image and image[k] == v)}


# -- results -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContainerSettings:
    """What a recreate carries from the old container to the new one. JSON-ready for a journal."""
    name: str
    env: dict[str, str] = field(default_factory=dict)        # set by the container, not the image
    labels: dict[str, str] = field(default_factory=dict)     # idem
    network_mode: str = ""
    port_bindings: dict[str, Any] = field(default_factory=dict)   # HostConfig.PortBindings
    restart_policy: dict[str, Any] = field(default_factory=dict)
    binds: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "env": dict(self.env), "labels": dict(self.labels),
                "network_mode": self.network_mode, "port_bindings": dict(self.port_bindings),
                "restart_policy": dict(self.restart_policy), "binds": list(self.binds),
                "extra_hosts": list(self.extra_hosts)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContainerSettings:
        return cls(name=data["name"], env=dict(data.get("env") or {}),
                   labels=dict(data.get("labels") or {}),
                   network_mode=data.get("network_mode") or "",
                   port_bindings=dict(data.get("port_bindings") or {}),
                   restart_policy=dict(data.get("restart_policy") or {}),
                   binds=tuple(data.get("binds") or ()),
                   extra_hosts=tuple(data.get("extra_hosts") or ()))


@dataclass(frozen=True)
class ContainerInfo:
    name: str
    ref: str                 # the image reference it was created from (Config.Image)
    image_id: str            # the image it runs, sha256:…
    status: str              # engine state: running, exited, created, …
    env: dict[str, str]      # its whole environment (image's included)
    labels: dict[str, str]

    @property
    def running(self) -> bool:
        return self.status == "running"


@dataclass(frozen=True)
class RecreateResult:
    container: str
    old_ref: str
    old_image_id: str
    new_ref: str
    new_image_id: str
    settings: ContainerSettings      # the old container's, as carried over
    changed: bool = True             # False: it already ran the wanted image, nothing was done
    notes: tuple[str, ...] = ()      # e.g. an old container that could not be removed

    def to_dict(self) -> dict[str, Any]:
        return {"container": self.container, "old_ref": self.old_ref,
                "old_image_id": self.old_image_id, "new_ref": self.new_ref,
                "new_image_id": self.new_image_id, "settings": self.settings.to_dict(),
                "changed": self.changed, "notes": list(self.notes)}


# -- engine access -----------------------------------------------------------------------------

@contextmanager
def _engine(docker_url: str, what: str, timeout_s: float = API_TIMEOUT_S) -> Iterator[Any]:
    """A low-level API client; any engine or transport failure becomes one DockerRuntimeError."""
    import docker
    import requests

    try:
        yield _client(docker_url, max(1, int(timeout_s + 0.999)))
    except DockerRuntimeError:
        raise
    except docker.errors.APIError as e:
        reason = e.explanation or str(e)
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        raise DockerRuntimeError(one_line(f"{what}: {reason}")) from None
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as e:
        _client.cache_clear()  # a broken connection is not reused
        raise DockerRuntimeError(one_line(
            f"{what}: engine {redact(docker_url)}: {type(e).__name__}: {e}")) from None


@functools.lru_cache(maxsize=8)
def _client(docker_url: str, timeout_s: int) -> Any:
    """One API client per engine and timeout for the whole run, at the API version the engine
    named once (`api_version`): left to "auto", every new client asks /version, and Podman takes
    0.35-0.4 s to answer it."""
    import docker

    return docker.APIClient(base_url=docker_url, timeout=timeout_s, version=api_version(docker_url),
                            **transport_options(docker_url))


def transport_options(docker_url: str) -> dict[str, Any]:
    """How to reach an engine that is not a local socket. `ssh://`: the OpenSSH client (the SDK's
    other way needs paramiko, which the project does not pin); `tcp://` with TLS: the standard
    DOCKER_TLS_VERIFY / DOCKER_CERT_PATH environment, as the docker CLI reads it."""
    if docker_url.startswith("ssh://"):
        return {"use_ssh_client": True}
    if docker_url.startswith(("tcp://", "https://")) and (os.environ.get("DOCKER_TLS_VERIFY")
                                                         or os.environ.get("DOCKER_CERT_PATH")):
        from docker.utils import kwargs_from_env

        tls = kwargs_from_env().get("tls")
        return {"tls": tls} if tls else {}
    return {}


@functools.lru_cache(maxsize=8)
def api_version(docker_url: str) -> str:
    """The engine's API version, asked once per run and engine: the `Api-Version` header of its
    `/_ping` answer (Docker and Podman send it; Podman answers a ping in a millisecond and
    /version in 0.35-0.4 s), else /version's `ApiVersion`, the field the SDK's own "auto"
    negotiation reads. A failure is not kept: the next call asks again."""
    import docker
    import docker.constants

    api = docker.APIClient(base_url=docker_url, timeout=API_TIMEOUT_S,
                           version=docker.constants.MINIMUM_DOCKER_API_VERSION, **transport_options(docker_url))
    try:
        response = api.get(api.base_url + "/_ping")
        response.raise_for_status()
        named = response.headers.get("Api-Version")
    finally:
        api.close()
    return named or str(engine_version(docker_url)["ApiVersion"])


@functools.lru_cache(maxsize=8)
def engine_version(docker_url: str) -> dict[str, Any]:
    """The engine's /version answer, asked once per run and engine (a failure is not kept: the
    next call asks again). The SDK's own "auto" negotiation reads the same `ApiVersion` field."""
    import docker
    import docker.constants

    api = docker.APIClient(base_url=docker_url, timeout=API_TIMEOUT_S,
                           version=docker.constants.MINIMUM_DOCKER_API_VERSION, **transport_options(docker_url))
    try:
        return api.version(api_version=False)
    finally:
        api.close()


def _not_found(e: BaseException) -> bool:
    import docker
    return isinstance(e, docker.errors.NotFound)


def _inspect_container(api: Any, name: str) -> dict[str, Any] | None:
    try:
        return api.inspect_container(name)
    except Exception as e:
        if _not_found(e):
            return None
        raise


def _inspect_image(api: Any, ref: str) -> dict[str, Any] | None:
    try:
        return api.inspect_image(ref)
    except Exception as e:
        if _not_found(e):
            return None
        raise


def _settings_of(api: Any, attrs: Mapping[str, Any], name: str,
                 fallback_image: Mapping[str, Any] | None) -> ContainerSettings:
    """The old container's own settings; env/labels measured against its own image's.

    When the container's image is gone (removed since), what it defined cannot be told apart from
    what the container set: every key `fallback_image` (the image about to be used) defines is
    then left to that image, whatever its value.
    """
    config = attrs.get("Config") or {}
    host = attrs.get("HostConfig") or {}
    env, labels = _env_dict(config.get("Env")), dict(config.get("Labels") or {})
    image = _inspect_image(api, str(attrs.get("Image", "")))
    if image is not None:
        image_config = image.get("Config") or {}
        image_env, image_labels = _env_dict(image_config.get("Env")), image_config.get("Labels")
    else:
        fallback = (fallback_image or {}).get("Config") or {}
        image_env = {k: env[k] for k in _env_dict(fallback.get("Env")) if k in env}
        image_labels = {k: labels[k] for k in (fallback.get("Labels") or {}) if k in labels}
    return ContainerSettings(
        name=name,
        env=own_entries(env, image_env, ENGINE_ENV_KEYS),
        labels={k: v for k, v in own_entries(labels, dict(image_labels or {})).items() if k != SUITE_LABEL},
        network_mode=str(host.get("NetworkMode") or ""),
        port_bindings={k: v for k, v in (host.get("PortBindings") or {}).items() if v},
        restart_policy={k: v for k, v in (host.get("RestartPolicy") or {}).items()
                        if k in ("Name", "MaximumRetryCount")},
        binds=tuple(host.get("Binds") or ()),
        extra_hosts=tuple(host.get("ExtraHosts") or ()),
    )


def _port_bindings_arg(bindings: Mapping[str, Any]) -> dict[str, list[tuple[str, str] | str]]:
    """HostConfig.PortBindings (inspect form) -> docker-py's create_host_config form."""
    out: dict[str, list[tuple[str, str] | str]] = {}
    for port, entries in bindings.items():
        out[port] = [(e.get("HostIp") or "", e.get("HostPort") or "") if e.get("HostIp")
                     else (e.get("HostPort") or "") for e in entries or ()]
    return out


def _create_and_start(api: Any, image: str, s: ContainerSettings, marked: bool) -> str:
    host_kwargs: dict[str, Any] = {}
    if s.network_mode:
        host_kwargs["network_mode"] = s.network_mode
    if s.port_bindings and s.network_mode != "host":
        host_kwargs["port_bindings"] = _port_bindings_arg(s.port_bindings)
    if s.restart_policy.get("Name"):
        host_kwargs["restart_policy"] = s.restart_policy
    if s.binds:
        host_kwargs["binds"] = list(s.binds)
    if s.extra_hosts:
        host_kwargs["extra_hosts"] = list(s.extra_hosts)
    ports = [p.split("/")[0] if p.endswith("/tcp") else tuple(p.split("/"))
             for p in s.port_bindings] if s.network_mode != "host" else None
    created = api.create_container(
        image, name=s.name, environment=[f"{k}={v}" for k, v in s.env.items()],
        labels={**s.labels, **({SUITE_LABEL: SUITE_LABEL_VALUE} if marked else {})}, ports=ports or None,
        detach=True,
        host_config=api.create_host_config(**host_kwargs))
    api.start(created["Id"])
    return created["Id"]


def _swap(api: Any, name: str, old: Mapping[str, Any] | None, image: str,
          settings: ContainerSettings, stop_timeout: float, marked: bool = False) -> list[str]:
    """Replace container `old` (or nothing) by a new one from `image`; the old one survives a
    failed create/start under its own name. Returns notes (things left behind)."""
    notes: list[str] = []
    if old is None:
        _create_and_start(api, image, settings, marked)
        return notes
    old_id = old["Id"]
    aside = f"{name}{ASIDE_INFIX}{secrets.token_hex(3)}"
    api.stop(old_id, timeout=int(stop_timeout))
    api.rename(old_id, aside)
    try:
        _create_and_start(api, image, settings, marked)
    except Exception as e:
        put_back = "the old container is back"
        try:
            leftover = _inspect_container(api, name)
            if leftover is not None and leftover["Id"] != old_id:
                api.remove_container(leftover["Id"], force=True)
            api.rename(old_id, name)
            api.start(old_id)
        except Exception as back:
            put_back = (f"and putting the old container back failed too "
                        f"({type(back).__name__}: {back}); it is {aside}")
        reason = getattr(e, "explanation", None) or str(e)
        raise DockerRuntimeError(one_line(
            f"container {name}: cannot run image {image}: {reason}; {put_back}")) from None
    try:
        api.remove_container(old_id, force=True)
    except Exception as e:
        notes.append(one_line(f"old container {aside} not removed: {type(e).__name__}: {e}"))
    return notes


def _wanted_timeout(stop_timeout: float) -> float:
    return API_TIMEOUT_S + max(0.0, stop_timeout)


# -- public API --------------------------------------------------------------------------------

def recreate_with_image(docker_url: str, container_name: str, image_ref: str, *,
                        stop_timeout: float = 3) -> RecreateResult:
    """Recreate `container_name` from `image_ref`, keeping what the container set itself.

    Does not wait for health. The image must exist locally (nothing is pulled): a missing image is
    an error before the running container is touched.
    """
    what = f"container {container_name}: recreate from image {image_ref}"
    with _engine(docker_url, what, _wanted_timeout(stop_timeout)) as api:
        old = _inspect_container(api, container_name)
        if old is None:
            raise DockerRuntimeError(f"{what}: no such container")
        new_image = _inspect_image(api, image_ref)
        if new_image is None:
            raise DockerRuntimeError(f"{what}: no such image {image_ref}")
        settings = _settings_of(api, old, container_name, fallback_image=new_image)
        notes = _swap(api, container_name, old, image_ref, settings, stop_timeout, marked=True)
        now = _inspect_container(api, container_name) or {}
    return RecreateResult(
        container=container_name,
        old_ref=str((old.get("Config") or {}).get("Image", "")),
        old_image_id=normalize_image_id(str(old.get("Image", ""))),
        new_ref=str((now.get("Config") or {}).get("Image", image_ref)),
        new_image_id=normalize_image_id(str(now.get("Image") or new_image["Id"])),
        settings=settings, notes=tuple(notes))


def restore_image(docker_url: str, container_name: str, image_id: str, *,
                  ref: str | None = None, settings: ContainerSettings | None = None,
                  stop_timeout: float = 3) -> RecreateResult:
    """Put `container_name` back on exactly the image `image_id`.

    `ref` is the reference the container had (the snapshot's): it is used to create the container
    when it still resolves to `image_id`, so the container reads as before; otherwise the ID itself
    is used. A container that already runs `image_id` from `ref` is left alone (changed=False).
    `settings` (a RecreateResult's `settings`, e.g. from a journal: the snapshot's container) are
    what the restored container gets; without them the current container's own are carried over.
    """
    wanted = normalize_image_id(image_id)
    what = f"container {container_name}: restore image {wanted}"
    with _engine(docker_url, what, _wanted_timeout(stop_timeout)) as api:
        target = _inspect_image(api, wanted)
        if target is None:
            raise DockerRuntimeError(f"{what}: no such image (it was removed?)")
        create_from = wanted
        if ref:
            by_ref = _inspect_image(api, ref)
            if by_ref is not None and normalize_image_id(by_ref["Id"]) == wanted:
                create_from = ref
        current = _inspect_container(api, container_name)
        if current is not None:
            cur_ref = str((current.get("Config") or {}).get("Image", ""))
            cur_id = normalize_image_id(str(current.get("Image", "")))
            running = (current.get("State") or {}).get("Status") == "running"
            if cur_id == wanted and running and (ref is None or cur_ref == ref):
                kept = _settings_of(api, current, container_name, fallback_image=target)
                return RecreateResult(container_name, cur_ref, cur_id, cur_ref, cur_id, kept,
                                      changed=False)
            kept = settings or _settings_of(api, current, container_name, fallback_image=target)
        elif settings is not None:
            kept = settings
        else:
            raise DockerRuntimeError(f"{what}: no such container, and no saved settings to "
                                     "create it from")
        notes = _swap(api, container_name, current, create_from, kept, stop_timeout)
        now = _inspect_container(api, container_name) or {}
    return RecreateResult(
        container=container_name,
        old_ref=str(((current or {}).get("Config") or {}).get("Image", "")),
        old_image_id=normalize_image_id(str((current or {}).get("Image", ""))),
        new_ref=str((now.get("Config") or {}).get("Image", create_from)),
        new_image_id=normalize_image_id(str(now.get("Image", wanted))),
        settings=kept, notes=tuple(notes))


def container_info(docker_url: str, name: str) -> ContainerInfo | None:
    """The container as the engine sees it now; None when there is no such container."""
    with _engine(docker_url, f"container {name}: inspect") as api:
        attrs = _inspect_container(api, name)
    if attrs is None:
        return None
    config = attrs.get("Config") or {}
    return ContainerInfo(name=name, ref=str(config.get("Image", "")),
                         image_id=normalize_image_id(str(attrs.get("Image", ""))),
                         status=str((attrs.get("State") or {}).get("Status", "")),
                         env=_env_dict(config.get("Env")), labels=dict(config.get("Labels") or {}))


def logs_tail(docker_url: str, name: str, lines: int = 50) -> str:
    """The last `lines` lines of the container's stdout+stderr, redacted."""
    with _engine(docker_url, f"container {name}: logs") as api:
        raw = api.logs(name, stdout=True, stderr=True, tail=max(1, int(lines)), stream=False)
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    return redact(text)


def ping(docker_url: str, timeout_s: float = API_TIMEOUT_S) -> None:
    """Raise DockerRuntimeError (one line) unless the engine answers."""
    with _engine(docker_url, "ping", timeout_s) as api:
        api.ping()


def image_id_of(docker_url: str, ref: str) -> str | None:
    """The ID (`sha256:…`) `ref` resolves to locally; None when no such image."""
    with _engine(docker_url, f"image {ref}: inspect") as api:
        attrs = _inspect_image(api, ref)
    return None if attrs is None else normalize_image_id(str(attrs["Id"]))


def image_env(docker_url: str, ref: str) -> dict[str, str]:
    """The image's own environment (`Config.Env`), e.g. {"AURA_VERSION": "v1.0.0", …}."""
    with _engine(docker_url, f"image {ref}: inspect") as api:
        attrs = _inspect_image(api, ref)
    if attrs is None:
        raise DockerRuntimeError(f"image {ref}: no such image")
    return _env_dict((attrs.get("Config") or {}).get("Env"))


def container_settings(docker_url: str, name: str) -> ContainerSettings | None:
    """What a recreate would carry over from `name` (None: no such container). Kept in the journal
    so that a container a killed run left missing can be created again."""
    with _engine(docker_url, f"container {name}: inspect") as api:
        attrs = _inspect_container(api, name)
        return None if attrs is None else _settings_of(api, attrs, name, fallback_image=None)


@dataclass(frozen=True)
class Leftover:
    name: str
    id: str
    ours: bool       # set aside by the suite: name pattern and (suite label or a known ID)


def leftovers_beside(docker_url: str, name: str, known_ids: frozenset[str] = frozenset()) -> list[Leftover]:
    """Containers named `<name>-aura-old-…` beside a service: a swap killed half-way. Ours when
    they also carry the suite's label or are a container the snapshot recorded (`known_ids`)."""
    pattern = re.compile(re.escape(name + ASIDE_INFIX) + r"[0-9a-f]{6}")
    with _engine(docker_url, f"containers beside {name}: list") as api:
        found = api.containers(all=True, filters={"name": name + ASIDE_INFIX})
    out = []
    for c in found:
        names = [n.lstrip("/") for n in c.get("Names") or ()]
        aside = next((n for n in names if pattern.fullmatch(n)), None)
        if aside is None:
            continue
        labels = c.get("Labels") or {}
        ours = labels.get(SUITE_LABEL) == SUITE_LABEL_VALUE or c["Id"] in known_ids
        out.append(Leftover(aside, c["Id"], ours))
    return out


def remove_container(docker_url: str, name_or_id: str) -> None:
    with _engine(docker_url, f"container {name_or_id}: remove") as api:
        api.remove_container(name_or_id, force=True)


def container_id(docker_url: str, name: str) -> str | None:
    with _engine(docker_url, f"container {name}: inspect") as api:
        attrs = _inspect_container(api, name)
    return None if attrs is None else str(attrs["Id"])
