"""Run `python -m sandbox` as a command, the way every user of the sandbox does."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Instance:
    """One sandbox: its own state folder, ports and container names."""
    state: str
    port_base: int
    prefix: str

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ, AURA_SANDBOX_STATE=self.state, AURA_SANDBOX_PORT_BASE=str(self.port_base),
                   AURA_SANDBOX_PREFIX=self.prefix)
        env.update(extra)
        return env

    def port(self, name: str) -> int:
        return self.port_base + ["front", "api_v1", "api_v2", "alerts", "postgres"].index(name)

    def run(self, *args: str, timeout: float = 300, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=PROJECT, env=self.env(**extra_env),
                              capture_output=True, text=True, timeout=timeout)
