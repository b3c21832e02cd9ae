"""Shared pieces of the helpers' unit tests: fast, no servers, small real inputs."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers.probe import Sample


def sample(t: float, status: int | None = 200, version: str | None = "v1.0.0",
           pool: str | None = "api_v1", sent: float | None = None) -> Sample:
    """A synthetic probe sample answered at `t` (sent 1 ms before, unless given)."""
    return Sample(t=t, status=status, latency_ms=1.0, version=version, pool=pool,
                  error=None if status else "ConnectError", sent=t - 0.001 if sent is None else sent)


@pytest.fixture
def ssh_front() -> Iterator[Callable[..., object]]:
    """ssh_front(**[front] keys) -> an SshFront on an unvalidated section (no host is contacted:
    for what it builds, names and classifies); known_hosts defaults to /k/known_hosts. Every
    front made is closed at teardown (each owns a private folder)."""
    from helpers.config import FrontSection
    from helpers.front.ssh import SshFront

    made: list[SshFront] = []

    def make(**keys) -> SshFront:
        keys.setdefault("known_hosts", Path("/k/known_hosts"))
        made.append(SshFront(FrontSection.model_construct(**keys)))
        return made[-1]

    yield make
    for front in made:
        front.close()
