"""A Docker SDK client for the sandbox's engine without the SDK's `/version` round trip.

`docker.DockerClient(base_url=...)` left at its default API version asks the engine's `/version`
first, and Podman's service takes 0.35-0.4 s to answer it (its `/_ping` answers in a millisecond):
more than a third of an `up` that finds everything already running. The engine names its API
version on every `/_ping` answer too (the `Api-Version` header, which the SDK's own negotiation
would read from `/version`), so the client is built at that version after one ping. An engine
that does not send the header gets the SDK's default negotiation, as before.
"""
from __future__ import annotations

from .errors import SandboxError


def docker_client(url: str, timeout: int = 30):
    """A `docker.DockerClient` for `url` at the API version the engine's `/_ping` names."""
    import docker
    from docker.constants import MINIMUM_DOCKER_API_VERSION

    api = docker.APIClient(base_url=url, timeout=timeout, version=MINIMUM_DOCKER_API_VERSION)
    try:
        response = api.get(api.base_url + "/_ping", timeout=timeout)
        response.raise_for_status()
        version = response.headers.get("Api-Version")
    finally:
        api.close()
    return docker.DockerClient(base_url=url, timeout=timeout, version=version or None)


def model_id(model) -> str:
    """The engine's id of an image or container. The SDK's models type it optional (they read it
    from their attrs); one the engine listed or returned always has it."""
    if model.id is None:
        raise SandboxError(f"the engine answered with a {type(model).__name__} without an id")
    return model.id
