"""Shared pieces of the helpers' unit tests: fast, no servers, small real inputs."""
from __future__ import annotations

from helpers.probe import Sample


def sample(t: float, status: int | None = 200, version: str | None = "v1.0.0",
           pool: str | None = "api_v1", sent: float | None = None) -> Sample:
    """A synthetic probe sample answered at `t` (sent 1 ms before, unless given)."""
    return Sample(t=t, status=status, latency_ms=1.0, version=version, pool=pool,
                  error=None if status else "ConnectError", sent=t - 0.001 if sent is None else sent)
