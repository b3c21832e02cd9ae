"""A container's definition: what was asked for it, read back from the engine's inspect answer.

A recreate (the image fault, the restore) must hand back the container exactly as it was found, so
the definition is inspect's whole `Config`, `HostConfig` and `NetworkSettings.Networks` — every
setting, including the ones this module never names — minus an explicit deny-list of what the engine
or the image fills in. Each entry of the deny-lists below says why it is left out. What is not
denied is carried: a setting a team adds tomorrow survives a recreate without a change here.

What a rollback legitimately changes — the image, and what the image brings (its `Env` entries,
`Cmd`, `Labels`, entrypoint, working dir, ...) — is not part of the definition: the entries equal to
the image's own are the image's, and a clone leaves them to the new image.

The definition is plain JSON (it goes into the journal); `digest()` is what the fingerprint holds,
`changes()` names each setting that differs, one line each.
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["COMPOSE_OWNED_LABELS", "DEFINITION_FORMAT", "PODMAN_ENGINE_ENV_KEYS", "SUITE_LABEL", "SUITE_LABEL_VALUE",
           "changes",
           "create_body", "definition_of", "digest", "env_dict", "normalize_image_id", "rollback_changes"]

# Bumped whenever what a definition holds changes: a journal keeps definitions (helpers.journal).
DEFINITION_FORMAT = 1
# A container the suite creates as a fault carries this label (with the set-aside name pattern it is
# how the suite tells its own leftovers from anyone else's); a restore's clone does not.
SUITE_LABEL = "aura-drill.created-by"
SUITE_LABEL_VALUE = "aura-drill-suite"
# Labels by which compose takes a container for the one its own files define (the hash of the
# service's config, and the image it resolved). The fault's container does not match that definition,
# so it must not claim to: the fault leaves them out, and the restore's clone carries them back.
COMPOSE_OWNED_LABELS = ("com.docker.compose.config-hash", "com.docker.compose.image")
# Compose's record of a recreate, not a setting: the ID of the container this one replaced (compose
# leaves it out of its own config hash too, compose#10275). Two `up`s of the same files differ by it.
COMPOSE_TRANSIENT_LABELS = ("com.docker.compose.replace",)

# -- the deny-lists ------------------------------------------------------------------------------
# Top level of inspect: only Config, HostConfig and NetworkSettings.Networks are read. Everything
# else there is the engine's record of the container, not a setting: Id, Created, State (running,
# pid, health, ...), Image (the ID: the image is what a rollback changes), Name (kept apart: the
# recreate reuses it), Path/Args (the process the engine computed from Entrypoint + Cmd),
# ResolvConfPath/HostnamePath/HostsPath/LogPath (files the engine made), RestartCount, Driver,
# Platform, MountLabel/ProcessLabel/AppArmorProfile (assigned by the engine's security driver),
# ExecIDs, GraphDriver, SizeRw/SizeRootFs, Mounts (the engine's resolved view of HostConfig's
# Binds/Mounts plus the image's volumes), and the rest of NetworkSettings (addresses, sandbox).

CONFIG_DENY = {
    "Image": "the image reference: what a rollback changes (the fingerprint keeps it apart)",
    "Hostname": "filled by the engine: the container ID, or the host's name on host networking",
    "Domainname": "filled by the engine with Hostname",
    "MacAddress": "assigned by the engine unless a network endpoint asks for one (kept there)",
}
# Config fields an image sets: a container value equal to its image's is the image's, left to the
# next image. (Env and Labels are compared entry by entry below.)
IMAGE_CONFIG_FIELDS = ("Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "StopSignal",
                       "Healthcheck", "OnBuild", "Shell", "ArgsEscaped")
# Podman adds these to every container's environment (PATH and TERM when the image has none, HOME
# from the user's passwd entry, `container=podman`, HOSTNAME): the engine's, added again on create.
PODMAN_ENGINE_ENV_KEYS = frozenset({"PATH", "TERM", "container", "HOME", "HOSTNAME"})
HOST_CONFIG_DENY = {
    "ContainerIDFile": "a file the docker CLI writes the ID to on the client's machine (a *Path file)",
    "ConsoleSize": "the size of the terminal of whoever created it, not a setting of the service",
}
# One network endpoint: what the engine assigned when the container joined the network.
ENDPOINT_DENY = {
    "NetworkID": "the network's ID: the network is named by its key",
    "EndpointID": "assigned per join",
    "Gateway": "assigned by the network's IPAM", "IPAddress": "assigned by IPAM unless IPAMConfig asks",
    "IPPrefixLen": "IPAM's", "IPv6Gateway": "IPAM's", "GlobalIPv6Address": "IPAM's",
    "GlobalIPv6PrefixLen": "IPAM's", "MacAddress": "assigned per join", "DNSNames": "derived by the engine",
}
_HEX_ID = re.compile(r"[0-9a-f]{64}")


def normalize_image_id(image_id: str) -> str:
    """`sha256:<64 hex>` whatever form the engine used (Podman may omit the algorithm)."""
    image_id = image_id.strip()
    return "sha256:" + image_id if _HEX_ID.fullmatch(image_id) else image_id


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == {} or value == ""


def env_dict(entries: Iterable[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in entries or ():
        key, _, value = entry.partition("=")
        out[key] = value
    return out


def _ulimit_name(name: str) -> str:
    """Podman reports `RLIMIT_NOFILE`, and its create accepts only `nofile` (PLATFORM.md)."""
    return name.removeprefix("RLIMIT_").lower()


def _aliases(aliases: list[str] | None, container_id: str) -> list[str] | None:
    """Docker adds the container's short ID as an alias on user-defined networks: the engine's."""
    kept = [a for a in aliases or () if not (container_id and container_id.startswith(a) and len(a) >= 12)]
    return kept or None


def definition_of(attrs: Mapping[str, Any], image: Mapping[str, Any] | None, *, podman: bool) -> dict[str, Any]:
    """The container's definition from its inspect answer `attrs` and its image's (`image`: None
    when the image is gone; then nothing can be told to be the image's and all is kept)."""
    config = copy.deepcopy(dict(attrs.get("Config") or {}))
    host = copy.deepcopy(dict(attrs.get("HostConfig") or {}))
    image_config = dict((image or {}).get("Config") or {})
    for key in CONFIG_DENY:
        config.pop(key, None)
    own_entrypoint = not _empty(config.get("Entrypoint")) and config.get("Entrypoint") != image_config.get("Entrypoint")
    for key in IMAGE_CONFIG_FIELDS:
        # With an entrypoint of its own, the container's Cmd is its own too: the engine does not
        # give an image's Cmd to a container created with another entrypoint.
        if key == "Cmd" and own_entrypoint:
            continue
        if image is not None and (config.get(key) == image_config.get(key)
                                  or (_empty(config.get(key)) and _empty(image_config.get(key)))):
            config.pop(key, None)
    image_env = env_dict(image_config.get("Env"))
    env = env_dict(config.get("Env"))
    config["Env"] = sorted(f"{k}={v}" for k, v in env.items()
                           if not (k in image_env and image_env[k] == v)
                           and not (podman and k in PODMAN_ENGINE_ENV_KEYS))
    image_labels = dict(image_config.get("Labels") or {})
    config["Labels"] = {k: v for k, v in sorted((config.get("Labels") or {}).items())
                        if not (k in image_labels and image_labels[k] == v) and k not in COMPOSE_TRANSIENT_LABELS}
    for key in HOST_CONFIG_DENY:
        host.pop(key, None)
    # Podman turns NanoCpus into CpuPeriod + CpuQuota and reports all three, then refuses a create
    # that names all three ("NanoCpus conflicts with CpuPeriod and CpuQuota"): the period and quota
    # it derived are its own.
    if (podman and host.get("NanoCpus") and host.get("CpuPeriod")
            and host.get("CpuQuota") == host["NanoCpus"] * host["CpuPeriod"] // 1_000_000_000):
        host.pop("CpuPeriod")
        host.pop("CpuQuota", None)
    # Mount order is no setting (the runtime mounts by destination) and compose lists a service's
    # volumes in no fixed order (a Go map): two `up`s of the same file differ by it on Docker.
    if host.get("Mounts"):
        host["Mounts"] = sorted(host["Mounts"], key=lambda m: (str(m.get("Target", "")), str(m.get("Source", ""))))
    if host.get("Ulimits"):
        host["Ulimits"] = sorted(({**u, "Name": _ulimit_name(str(u.get("Name", "")))} for u in host["Ulimits"]),
                                 key=lambda u: u["Name"])
    container_id = str(attrs.get("Id") or "")
    networks = {}
    for name, endpoint in sorted(((attrs.get("NetworkSettings") or {}).get("Networks") or {}).items()):
        kept = {k: v for k, v in (endpoint or {}).items() if k not in ENDPOINT_DENY}
        if "Aliases" in kept:
            kept["Aliases"] = _aliases(kept["Aliases"], container_id)
        networks[name] = kept
    return {"Config": config, "HostConfig": host, "Networks": networks}


def digest(definition: Mapping[str, Any]) -> str:
    """sha256 of the definition's canonical JSON: what the fingerprint compares."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if _empty(value) or value is False or value == 0:
        return {prefix: None}  # unset, empty and zero read the same: the engine's default
    return {prefix: value}


def changes(before: Mapping[str, Any], after: Mapping[str, Any], *, ignore_labels: Iterable[str] = ()) -> list[str]:
    """One line per setting that differs, `HostConfig.PidsLimit: 128 -> None` (before: the
    snapshot's), Env compared by key. `ignore_labels`: labels left out of the comparison."""
    ignored = set(ignore_labels)

    def flat(given: Mapping[str, Any]) -> dict[str, Any]:
        d: dict[str, Any] = copy.deepcopy(dict(given))
        config = d.setdefault("Config", {})
        config["Env"] = env_dict(config.get("Env"))
        config["Labels"] = {k: v for k, v in (config.get("Labels") or {}).items() if k not in ignored}
        return _flatten(d, "")
    a, b = flat(before), flat(after)
    return [f"{key}: {a.get(key)} -> {b.get(key)}" for key in sorted(set(a) | set(b))
            if a.get(key) != b.get(key)]


def rollback_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """What a rollback changed in the definition. The suite's marker and the compose labels the fault
    left out are the fault's doing, not the rollback's: they are not counted here (the restore puts
    them back, and the fingerprint then counts every label)."""
    return changes(before, after, ignore_labels=(SUITE_LABEL, *COMPOSE_OWNED_LABELS))


def create_body(definition: Mapping[str, Any], image_ref: str, *, drop_labels: Iterable[str] = (),
                add_labels: Mapping[str, str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(body of POST /containers/create, endpoints to connect after create) for a clone of
    `definition` on `image_ref`. The network the mode names is joined at create; any other network
    the container was on is joined after it (the API takes one endpoint at create)."""
    config = copy.deepcopy(dict(definition.get("Config") or {}))
    host = copy.deepcopy(dict(definition.get("HostConfig") or {}))
    labels = {k: v for k, v in (config.get("Labels") or {}).items() if k not in set(drop_labels)}
    labels.update(add_labels or {})
    config["Labels"] = labels
    networks = dict(definition.get("Networks") or {})
    mode = str(host.get("NetworkMode") or "")
    first = {mode: networks.pop(mode)} if mode in networks else {}
    if mode in ("host", "none") or mode.startswith("container:"):
        networks = {}  # these modes have no endpoints of their own to join
    body = {**config, "Image": image_ref, "HostConfig": host}
    if first and mode not in ("host", "none"):
        body["NetworkingConfig"] = {"EndpointsConfig": first}
    return body, networks
