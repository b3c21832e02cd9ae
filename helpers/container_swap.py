"""Recreate a service container on another image as a faithful clone, and put one back.

The Docker Engine API has no "change this container's image": a container is recreated. The new one
is a clone of the old one's whole definition (helpers.container_definition: inspect's Config,
HostConfig and networks minus what the engine or the image fills in), on the new image. Health is
not waited for here: the bad-image fault wants to watch the service fail, the restore watches
`/healthz` itself.

The swap leaves the old container in place on a failure: stop it, rename it aside, create and start
the clone under the name, and only then remove the old; if creating or starting fails, the clone is
removed and the old one gets its name back and is started again.

Creating from a bare image ID: Podman then reports one of the image's tags as the container's
reference, Docker the ID itself. `restore_container` therefore creates from the original reference
whenever that still resolves to the wanted ID, so the restored container reads as it did.
"""
from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from helpers.container_definition import (
    COMPOSE_OWNED_LABELS,
    SUITE_LABEL,
    SUITE_LABEL_VALUE,
    create_body,
    normalize_image_id,
)
from helpers.engine_api import API_TIMEOUT_S, ASIDE_INFIX, ContainerDefinition, DockerRuntimeError, Engine
from helpers.redact import one_line

__all__ = ["RecreateResult", "recreate_with_image", "restore_container"]


@dataclass(frozen=True)
class RecreateResult:
    container: str
    old_ref: str
    old_image_id: str
    new_ref: str
    new_image_id: str
    cloned: ContainerDefinition      # the old container's, as the clone got it
    changed: bool = True             # False: it already ran the wanted image, nothing was done
    notes: tuple[str, ...] = ()      # e.g. an old container that could not be removed


def _create_and_start(api: Any, image: str, saved: ContainerDefinition, drop_labels: Iterable[str],
                      add_labels: Mapping[str, str]) -> str:
    body, more_networks = create_body(saved.definition, image, drop_labels=drop_labels, add_labels=add_labels)
    created = api.create_container_from_config(body, saved.name)
    for network, endpoint in more_networks.items():
        api.connect_container_to_network(created["Id"], network, aliases=endpoint.get("Aliases"),
                                         links=endpoint.get("Links"), driver_opt=endpoint.get("DriverOpts"),
                                         **_ipam(endpoint.get("IPAMConfig")))
    api.start(created["Id"])
    return str(created["Id"])


def _ipam(config: Mapping[str, Any] | None) -> dict[str, Any]:
    config = config or {}
    out = {"ipv4_address": config.get("IPv4Address"), "ipv6_address": config.get("IPv6Address"),
           "link_local_ips": config.get("LinkLocalIPs")}
    return {k: v for k, v in out.items() if v}


def swap(engine: Engine, api: Any, old: Mapping[str, Any] | None, image: str, saved: ContainerDefinition,
         stop_timeout: float, *, drop_labels: Iterable[str] = (), add_labels: Mapping[str, str] | None = None
         ) -> list[str]:
    """Replace container `old` (or nothing) by a clone of `saved` on `image`; the old one survives a
    failed create/start under its own name. Returns notes (things left behind)."""
    notes: list[str] = []
    name = saved.name
    if old is None:
        _create_and_start(api, image, saved, drop_labels, add_labels or {})
        return notes
    old_id = old["Id"]
    aside = f"{name}{ASIDE_INFIX}{secrets.token_hex(3)}"
    api.stop(old_id, timeout=int(stop_timeout))
    api.rename(old_id, aside)
    try:
        _create_and_start(api, image, saved, drop_labels, add_labels or {})
    except Exception as e:
        put_back = "the old container is back"
        try:
            leftover = engine.inspect_container(api, name)
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


def _result(engine: Engine, api: Any, name: str, old: Mapping[str, Any] | None, created_from: str,
            cloned: ContainerDefinition, notes: list[str]) -> RecreateResult:
    now = engine.inspect_container(api, name) or {}
    return RecreateResult(
        container=name, old_ref=str(((old or {}).get("Config") or {}).get("Image", "")),
        old_image_id=normalize_image_id(str((old or {}).get("Image", ""))),
        new_ref=str((now.get("Config") or {}).get("Image", created_from)),
        new_image_id=normalize_image_id(str(now.get("Image", ""))), cloned=cloned, notes=tuple(notes))


def recreate_with_image(engine: Engine, container_name: str, image_ref: str, *,
                        stop_timeout: float = 3) -> RecreateResult:
    """The fault's recreate: `container_name` cloned onto `image_ref`, marked as the suite's, and
    without the labels by which compose would take it for its own (COMPOSE_OWNED_LABELS).

    Does not wait for health. The image must exist locally (nothing is pulled): a missing image is
    an error before the running container is touched.
    """
    what = f"container {container_name}: recreate from image {image_ref}"
    with engine.call(what, _wanted_timeout(stop_timeout)) as api:
        old = engine.inspect_container(api, container_name)
        if old is None:
            raise DockerRuntimeError(f"{what}: no such container")
        if engine.inspect_image(api, image_ref) is None:
            raise DockerRuntimeError(f"{what}: no such image {image_ref}")
        saved = engine.definition_of(api, old, container_name)
        notes = swap(engine, api, old, image_ref, saved, stop_timeout,
                     drop_labels=COMPOSE_OWNED_LABELS, add_labels={SUITE_LABEL: SUITE_LABEL_VALUE})
        return _result(engine, api, container_name, old, image_ref, saved, notes)


def restore_container(engine: Engine, container_name: str, saved: ContainerDefinition, *,
                      stop_timeout: float = 3) -> RecreateResult:
    """Put `container_name` back as `saved` (the snapshot's): its image by ID and its whole
    definition, every label included and the suite's marker not.

    `saved.ref` is used to create the container when it still resolves to the saved image ID, so
    the container reads as before; otherwise the ID itself is used. A container that already is
    `saved` (same image ID and reference, running, same definition) is left alone (changed=False).
    """
    wanted = saved.image_id
    what = f"container {container_name}: restore image {wanted}"
    with engine.call(what, _wanted_timeout(stop_timeout)) as api:
        if engine.inspect_image(api, wanted) is None:
            raise DockerRuntimeError(f"{what}: no such image (it was removed or rebuilt since the snapshot)")
        create_from = wanted
        by_ref = engine.inspect_image(api, saved.ref) if saved.ref else None
        if by_ref is not None and normalize_image_id(str(by_ref["Id"])) == wanted:
            create_from = saved.ref
        current = engine.inspect_container(api, container_name)
        if current is not None:
            now = engine.definition_of(api, current, container_name)
            if (now.image_id, now.ref, now.status, now.digest) == (wanted, saved.ref, "running", saved.digest):
                return RecreateResult(container_name, now.ref, now.image_id, now.ref, now.image_id, now,
                                      changed=False)
        notes = swap(engine, api, current, create_from, saved, stop_timeout)
        return _result(engine, api, container_name, current, create_from, saved, notes)
