"""Shared pieces of the helpers' unit tests: fast, no servers, small real inputs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers.probe import Sample


def sample(t: float, status: int | None = 200, version: str | None = "v1.0.0",
           pool: str | None = "api_v1", sent: float | None = None) -> Sample:
    """A synthetic probe sample answered at `t` (sent 1 ms before, unless given)."""
    return Sample(t=t, status=status, latency_ms=1.0, version=version, pool=pool,
                  error=None if status else "ConnectError", sent=t - 0.001 if sent is None else sent)


@pytest.fixture
def make_executable(tmp_path: Path):
    """Factory: an executable shell script in tmp_path/bin, returns its absolute path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)

    def make(name: str, body: str = "exit 0", mode: int = 0o755) -> Path:
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        os.chmod(path, mode)
        return path

    return make
