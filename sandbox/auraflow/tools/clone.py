"""What an image rollback keeps of the container it replaces: everything that was set for it.

The new container is created through the Engine API's own create call from the old one's inspect
answer — its whole Config and HostConfig and its networks — so a setting nobody names here (a pids
limit, a tmpfs, a healthcheck, a log option...) is carried all the same. Left out is only what the
engine or the image fills in:
- Config.Image (the rollback's new image), Hostname/Domainname (the engine's: an ID, or the host's
  name on host networking);
- what the old image brought: Env entries and Labels equal to its own, and Cmd, Entrypoint,
  WorkingDir, User, ExposedPorts, Volumes, StopSignal, Healthcheck, Shell equal to its own (the new
  image brings its own) — but a container with an entrypoint of its own keeps its Cmd;
- on Podman, the PATH/TERM/HOME/HOSTNAME/container variables it adds to every container, and the
  CPU period and quota it derives from NanoCpus (its create refuses all three together); Podman's
  ulimit names (RLIMIT_NOFILE) are given back as its create wants them (nofile);
- HostConfig.ContainerIDFile and ConsoleSize (the creating client's), network endpoint IDs and
  addresses (assigned per join).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

IMAGE_FIELDS = ("Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "StopSignal",
                "Healthcheck", "OnBuild", "Shell", "ArgsEscaped")
PODMAN_ENV = {"PATH", "TERM", "HOME", "HOSTNAME", "container"}
ENDPOINT_KEEP = ("Aliases", "IPAMConfig", "Links", "DriverOpts")


@dataclass
class Spec:
    """What was set for a container (not inherited from its image): enough to create it again."""
    name: str
    image_ref: str
    image_id: str
    body: dict[str, Any] = field(default_factory=dict)       # POST /containers/create, without Image
    networks: dict[str, Any] = field(default_factory=dict)   # endpoints joined after create

    def describe(self) -> str:
        return f"{self.name} ({self.image_ref}, {self.image_id.split(':')[-1][:12]})"


def _nothing(value: Any) -> bool:
    return value in (None, "", [], {})


def _podman(client) -> bool:
    try:
        components = client.version().get("Components") or []
    except Exception:
        return False
    return any("podman" in str(c.get("Name", "")).lower() for c in components)


def spec_of(client, container) -> Spec:
    attrs = container.attrs
    config = copy.deepcopy(attrs.get("Config") or {})
    host = copy.deepcopy(attrs.get("HostConfig") or {})
    try:
        image_config = client.images.get(attrs["Image"]).attrs.get("Config") or {}
        have_image = True
    except Exception:  # the old image is gone: nothing can be told to be its own, all is kept
        image_config, have_image = {}, False
    podman = _podman(client)
    for key in ("Image", "Hostname", "Domainname"):
        config.pop(key, None)
    entrypoint = config.get("Entrypoint")
    own_entrypoint = not _nothing(entrypoint) and entrypoint != image_config.get("Entrypoint")
    for key in IMAGE_FIELDS:
        if key == "Cmd" and own_entrypoint:
            continue
        mine, theirs = config.get(key), image_config.get(key)
        if have_image and (mine == theirs or (_nothing(mine) and _nothing(theirs))):
            config.pop(key, None)
    image_env = set(image_config.get("Env") or [])
    config["Env"] = [e for e in config.get("Env") or []
                     if e not in image_env and not (podman and e.split("=", 1)[0] in PODMAN_ENV)]
    image_labels = image_config.get("Labels") or {}
    config["Labels"] = {k: v for k, v in (config.get("Labels") or {}).items() if image_labels.get(k) != v}
    for key in ("ContainerIDFile", "ConsoleSize"):
        host.pop(key, None)
    if podman and host.get("NanoCpus"):
        host.pop("CpuPeriod", None)
        host.pop("CpuQuota", None)
    for limit in host.get("Ulimits") or []:
        limit["Name"] = str(limit.get("Name", "")).removeprefix("RLIMIT_").lower()
    mode = host.get("NetworkMode") or ""
    endpoints = {name: {k: v for k, v in (ep or {}).items() if k in ENDPOINT_KEEP}
                 for name, ep in ((attrs.get("NetworkSettings") or {}).get("Networks") or {}).items()}
    body = {**config, "HostConfig": host}
    first = endpoints.pop(mode, None)
    if first is not None and mode not in ("host", "none"):
        body["NetworkingConfig"] = {"EndpointsConfig": {mode: first}}
    if mode in ("host", "none") or mode.startswith("container:"):
        endpoints = {}
    return Spec(name=attrs.get("Name", "").lstrip("/") or container.name,
                image_ref=(attrs.get("Config") or {}).get("Image") or attrs["Image"], image_id=attrs["Image"],
                body=body, networks=endpoints)


def create_from(client, spec: Spec, image_ref: str):
    """Create (not start) a container `spec.name` from `image_ref` with everything `spec` keeps."""
    created = client.api.create_container_from_config({**spec.body, "Image": image_ref}, spec.name)
    for network, endpoint in spec.networks.items():
        client.api.connect_container_to_network(created["Id"], network, aliases=endpoint.get("Aliases"),
                                                links=endpoint.get("Links"))
    return client.containers.get(created["Id"])
