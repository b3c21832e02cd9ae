"""The target's container engine ([docker] url), Docker Engine or Podman: one adapter object.

`Engine.from_config(cfg)` is the one place an engine adapter is built; whoever builds it owns it and
closes it (`close()`, or `with`). It holds its API clients (one per timeout, at the API version the
engine named once) and what the engine said about itself; nothing is cached beyond the object, so
two adapters never share a connection and a closed one holds nothing.

Every call goes through `call()`: a client with a timeout, and any engine or transport failure
becomes a `DockerRuntimeError` of one line naming the container or image.

Engine differences the adapter knows (checked against Podman 4.3's Docker API and Docker Engine
20.10; the README's "Docker Engine and Podman" lists them all):
- Podman reports image IDs with or without `sha256:`; IDs are always returned with it.
- Podman adds PATH, TERM, container, HOME, HOSTNAME to every container's environment: the engine's,
  left out of a definition (helpers.container_definition).
- "podman" means /version names a Podman component; anything else is a Docker Engine.
"""
from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from helpers.container_definition import (
    SUITE_LABEL,
    SUITE_LABEL_VALUE,
    definition_of,
    digest,
    env_dict,
    normalize_image_id,
)
from helpers.redact import one_line, redact

__all__ = ["API_TIMEOUT_S", "ASIDE_INFIX", "ContainerDefinition", "ContainerInfo", "DockerRuntimeError", "Engine",
           "Leftover", "transport_options"]

API_TIMEOUT_S = 30          # per engine request; a stop adds its own stop_timeout to this
ASIDE_INFIX = "-aura-old-"  # <name>-aura-old-<6 hex>: a container set aside by a swap


class DockerRuntimeError(RuntimeError):
    """One line: what was being done, to which container or image, and what the engine said."""


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
class ContainerDefinition:
    """A container as a clone needs it: name, image (reference and ID) and its definition
    (helpers.container_definition). JSON-ready for the journal."""
    name: str
    ref: str
    image_id: str
    status: str
    definition: dict[str, Any]

    @property
    def digest(self) -> str:
        return digest(self.definition)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ref": self.ref, "image_id": self.image_id, "status": self.status,
                "definition": self.definition}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContainerDefinition:
        return cls(str(data["name"]), str(data["ref"]), str(data["image_id"]), str(data.get("status", "")),
                   dict(data["definition"]))


@dataclass(frozen=True)
class Leftover:
    name: str
    id: str
    ours: bool       # set aside by the suite: name pattern and (suite label or a known ID)


def transport_options(docker_url: str) -> dict[str, Any]:
    """How to reach an engine that is not a local socket: `tcp://` with TLS through the standard
    DOCKER_TLS_VERIFY / DOCKER_CERT_PATH environment, as the docker CLI reads it. (`ssh://` is
    refused when the config loads: the SDK needs paramiko for it, which the project does not pin.)"""
    if docker_url.startswith(("tcp://", "https://")) and (os.environ.get("DOCKER_TLS_VERIFY")
                                                         or os.environ.get("DOCKER_CERT_PATH")):
        from docker.utils import kwargs_from_env

        tls = kwargs_from_env().get("tls")
        return {"tls": tls} if tls else {}
    return {}


class Engine:
    """The engine at one URL, with its clients. Build it with `from_config`; `close()` when done."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: dict[int, Any] = {}
        self._lock = threading.Lock()   # the report asks for /version on a thread of its own
        self._api_version: str | None = None
        self._libpod: bool | None = None   # the ping named a Libpod API version: Podman
        self._version: dict[str, Any] | None = None

    @classmethod
    def from_config(cls, cfg: Any) -> Engine:
        """The adapter for a target's `[docker] url` (cfg: the TargetConfig)."""
        return cls(cfg.docker.url)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- clients -------------------------------------------------------------------------------
    def _bare_client(self) -> Any:
        import docker
        from docker.constants import MINIMUM_DOCKER_API_VERSION

        return docker.APIClient(base_url=self.url, timeout=API_TIMEOUT_S, version=MINIMUM_DOCKER_API_VERSION,
                                **transport_options(self.url))

    def _client(self, timeout_s: int) -> Any:
        import docker

        version = self.api_version()
        with self._lock:
            client = self._clients.get(timeout_s)
            if client is None:
                client = self._clients[timeout_s] = docker.APIClient(
                    base_url=self.url, timeout=timeout_s, version=version, **transport_options(self.url))
            return client

    def _drop(self, timeout_s: int) -> None:
        with self._lock:
            client = self._clients.pop(timeout_s, None)
        if client is not None:
            client.close()

    @contextmanager
    def call(self, what: str, timeout_s: float = API_TIMEOUT_S) -> Iterator[Any]:
        """A low-level API client; any engine or transport failure becomes one DockerRuntimeError."""
        import docker
        import requests

        seconds = max(1, int(timeout_s + 0.999))
        try:
            yield self._client(seconds)
        except DockerRuntimeError:
            raise
        except docker.errors.APIError as e:
            reason = e.explanation or str(e)
            if isinstance(reason, bytes):
                reason = reason.decode(errors="replace")
            raise DockerRuntimeError(one_line(f"{what}: {reason}")) from None
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as e:
            self._drop(seconds)  # a broken connection is not reused
            raise DockerRuntimeError(one_line(
                f"{what}: engine {redact(self.url)}: {type(e).__name__}: {e}")) from None

    def api_version(self) -> str:
        """The engine's API version, asked once: the `Api-Version` header of its `/_ping` answer
        (Docker and Podman send it; Podman answers a ping in a millisecond and /version in
        0.35-0.4 s), else /version's `ApiVersion`, the field the SDK's "auto" negotiation reads."""
        if self._api_version is None:
            api = self._bare_client()
            try:
                response = api.get(api.base_url + "/_ping")
                response.raise_for_status()
                named = response.headers.get("Api-Version")
                self._libpod = "Libpod-Api-Version" in response.headers
            finally:
                api.close()
            self._api_version = named or str(self.version()["ApiVersion"])
        return self._api_version

    def version(self) -> dict[str, Any]:
        """The engine's /version answer, asked once."""
        if self._version is None:
            api = self._bare_client()
            try:
                self._version = api.version(api_version=False)
            finally:
                api.close()
        return self._version

    @property
    def podman(self) -> bool:
        """Podman names itself among /version's components, and its /_ping answer carries a
        `Libpod-Api-Version` header; a Docker Engine does neither. The ping's answer is used when
        there is one: Podman 4.3 takes 0.4 s to answer /version on a quiet machine and 3 s on a
        busy one, and a rollback's own process pays that again."""
        if self._libpod is None:
            self.api_version()
        if self._libpod:
            return True
        return any("podman" in str(c.get("Name", "")).lower() for c in self.version().get("Components") or ())

    @property
    def kind(self) -> str:
        return "podman" if self.podman else "docker"

    # -- reads ---------------------------------------------------------------------------------
    def inspect_container(self, api: Any, name: str) -> dict[str, Any] | None:
        return _or_none(api.inspect_container, name)

    def inspect_image(self, api: Any, ref: str) -> dict[str, Any] | None:
        return _or_none(api.inspect_image, ref)

    def ping(self, timeout_s: float = API_TIMEOUT_S) -> None:
        """Raise DockerRuntimeError (one line) unless the engine answers."""
        with self.call("ping", timeout_s) as api:
            api.ping()

    def container_info(self, name: str) -> ContainerInfo | None:
        """The container as the engine sees it now; None when there is no such container."""
        with self.call(f"container {name}: inspect") as api:
            attrs = self.inspect_container(api, name)
        if attrs is None:
            return None
        config = attrs.get("Config") or {}
        return ContainerInfo(name=name, ref=str(config.get("Image", "")),
                             image_id=normalize_image_id(str(attrs.get("Image", ""))),
                             status=str((attrs.get("State") or {}).get("Status", "")),
                             env=env_dict(config.get("Env")), labels=dict(config.get("Labels") or {}))

    def definition_of(self, api: Any, attrs: dict[str, Any], name: str) -> ContainerDefinition:
        image = self.inspect_image(api, str(attrs.get("Image", "")))
        return ContainerDefinition(name=name, ref=str((attrs.get("Config") or {}).get("Image", "")),
                                   image_id=normalize_image_id(str(attrs.get("Image", ""))),
                                   status=str((attrs.get("State") or {}).get("Status", "")),
                                   definition=definition_of(attrs, image, podman=self.podman))

    def container_definition(self, name: str) -> ContainerDefinition | None:
        """The container's whole definition (None: no such container)."""
        with self.call(f"container {name}: inspect") as api:
            attrs = self.inspect_container(api, name)
            return None if attrs is None else self.definition_of(api, attrs, name)

    def logs_tail(self, name: str, lines: int = 50) -> str:
        """The last `lines` lines of the container's stdout+stderr, redacted."""
        with self.call(f"container {name}: logs") as api:
            raw = api.logs(name, stdout=True, stderr=True, tail=max(1, int(lines)), stream=False)
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
        return redact(text)

    def image_id_of(self, ref: str) -> str | None:
        """The ID (`sha256:…`) `ref` resolves to locally; None when no such image."""
        with self.call(f"image {ref}: inspect") as api:
            attrs = self.inspect_image(api, ref)
        return None if attrs is None else normalize_image_id(str(attrs["Id"]))

    def image_env(self, ref: str) -> dict[str, str]:
        """The image's own environment (`Config.Env`), e.g. {"AURA_VERSION": "v1.0.0", …}."""
        with self.call(f"image {ref}: inspect") as api:
            attrs = self.inspect_image(api, ref)
        if attrs is None:
            raise DockerRuntimeError(f"image {ref}: no such image")
        return env_dict((attrs.get("Config") or {}).get("Env"))

    def container_id(self, name: str) -> str | None:
        with self.call(f"container {name}: inspect") as api:
            attrs = self.inspect_container(api, name)
        return None if attrs is None else str(attrs["Id"])

    def remove_container(self, name_or_id: str) -> None:
        with self.call(f"container {name_or_id}: remove") as api:
            api.remove_container(name_or_id, force=True)

    def leftovers_beside(self, name: str, known_ids: frozenset[str] = frozenset()) -> list[Leftover]:
        """Containers named `<name>-aura-old-…` beside a service: a swap killed half-way. Ours when
        they also carry the suite's label or are a container the snapshot recorded (`known_ids`)."""
        pattern = re.compile(re.escape(name + ASIDE_INFIX) + r"[0-9a-f]{6}")
        with self.call(f"containers beside {name}: list") as api:
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


def _or_none(inspect: Any, what: str) -> dict[str, Any] | None:
    import docker

    try:
        return inspect(what)
    except docker.errors.NotFound:
        return None
