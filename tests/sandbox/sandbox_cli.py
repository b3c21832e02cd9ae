"""Run `python -m sandbox` as a command, the way every user of the sandbox does."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.sandbox_ids import extra

PROJECT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Instance:
    """One sandbox: its own state folder, ports, container names and image repository."""
    state: str
    port_base: int
    prefix: str
    image_repository: str

    @classmethod
    def named(cls, name: str) -> Instance:
        """The extra sandbox `name` of tests/sandbox_ids.py, derived from this run's AURA_SANDBOX_*."""
        ident = extra(name)
        return cls(ident.state, ident.port_base, ident.prefix, ident.image_repository)

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ, AURA_SANDBOX_STATE=self.state, AURA_SANDBOX_PORT_BASE=str(self.port_base),
                   AURA_SANDBOX_PREFIX=self.prefix, AURA_SANDBOX_IMAGE_REPOSITORY=self.image_repository)
        env.update(extra)
        return env

    def port(self, name: str) -> int:
        return self.port_base + ["front", "api_v1", "api_v2", "alerts", "postgres"].index(name)

    def run(self, *args: str, timeout: float = 300, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=PROJECT, env=self.env(**extra_env),
                              capture_output=True, text=True, timeout=timeout)
