"""Where the sandbox keeps its state and which loopback ports it uses.

Everything lives under one short state folder that the `postgres` and `nobody` users can reach
(PLATFORM.md: /root is 0700 and unix sockets must stay under 107 bytes). Two environment variables
move it, so tests can run a second sandbox beside a first one:

    AURA_SANDBOX_STATE      the state folder (default /var/tmp/aura-sandbox)
    AURA_SANDBOX_PORT_BASE  the first of ten consecutive ports (default 18080): five for every
                            layout, two more (base+5, base+6) for the hosts layout

    AURA_SANDBOX_PREFIX     the prefix of the container names (default aura-api)
    AURA_SANDBOX_IMAGE_REPOSITORY  the API images' repository (default aura-api; see image_repository)
    AURA_SANDBOX_STATUS_POOL  "0": the API's /status omits the pool (as a real app's may), and the
                            config says `[status] pool_field = ""`
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

SANDBOX_DIR = Path(__file__).resolve().parent
PROJECT_DIR = SANDBOX_DIR.parent

# The release manifest: each tag and the schema revision it needs. Which revisions each version
# *accepts* is the app's own knowledge (sandbox/auraflow/app/aura_api.py); this is what deploys ask for.
REVISION_BASE = "0001_base"
REVISION_GOOD = "0002_customer"
REVISION_BAD = "0003_rename_item"
RELEASES = {
    "v1.0.0": REVISION_GOOD,
    "v1.1.0": REVISION_GOOD,
    "v2.0.0": REVISION_GOOD,
    "v1.2.0-bad": REVISION_BAD,
}
STABLE_TAG = "stable"
STABLE_VERSION = "v1.0.0"
NEXT_VERSION = "v2.0.0"
BAD_TAG = "v1.2.0-bad"
IMAGE_REPOSITORY = "aura-api"
DATABASE_NAME = "aura"
DATABASE_USER = "aura"


@dataclass(frozen=True)
class Ports:
    front: int
    api_v1: int
    api_v2: int
    alerts: int
    postgres: int
    ssh: int  # the front host's sshd (hosts layout only)
    engine_tcp: int  # the engine's API over TCP (hosts layout only)

    @classmethod
    def from_base(cls, base: int) -> Ports:
        # base+7..+9 stay free for what a later layout needs: each instance keeps to its block of ten.
        return cls(front=base, api_v1=base + 1, api_v2=base + 2, alerts=base + 3, postgres=base + 4,
                   ssh=base + 5, engine_tcp=base + 6)

    def named(self) -> dict[str, int]:
        return {"front (nginx)": self.front, "api_v1": self.api_v1, "api_v2": self.api_v2,
                "alert receiver": self.alerts, "postgres": self.postgres}

    def hosts_named(self) -> dict[str, int]:
        """The ports of the hosts layout: the same five, plus the front's sshd and the TCP engine."""
        return {**self.named(), "front sshd": self.ssh, "engine (tcp)": self.engine_tcp}


def image_repository() -> str:
    """The API images' repository: `aura-api`, or $AURA_SANDBOX_IMAGE_REPOSITORY. Tags are what
    the runbook names (v1.0.0, stable), so two checkouts whose image build hashes differ re-tag one
    shared repository back and forth, each time the other runs `up`; a sandbox that must not be
    moved by another checkout (the workflow test's fresh clone, a second working tree) names its own."""
    name = os.environ.get("AURA_SANDBOX_IMAGE_REPOSITORY") or IMAGE_REPOSITORY
    if not re.fullmatch(r"[a-z0-9]+(?:[._-][a-z0-9]+)*", name):
        raise ValueError(f"AURA_SANDBOX_IMAGE_REPOSITORY={name!r} is not an image repository name "
                         "(lowercase letters and digits, joined by '.', '_' or '-')")
    return name


@dataclass(frozen=True)
class Layout:
    state: Path
    ports: Ports
    container_prefix: str
    status_pool: bool = True  # does the API's /status report its pool? (AURA_SANDBOX_STATUS_POOL)
    # Does the front serve HTTPS with the sandbox's CA? (AURA_SANDBOX_TLS; 0 = plain HTTP, for the
    # benchmark of what TLS costs a drill: a real staging's front is HTTPS.)
    tls: bool = True
    # The address the staging's services listen on and are reached at: loopback, or (hosts
    # layout, netns.py) the staging namespace's veth address.
    bind: str = "127.0.0.1"

    @classmethod
    def from_env(cls) -> Layout:
        state = Path(os.environ.get("AURA_SANDBOX_STATE", "/var/tmp/aura-sandbox"))
        raw_base = os.environ.get("AURA_SANDBOX_PORT_BASE", "18080")
        if not raw_base.isdigit() or not 1024 <= int(raw_base) <= 65530:
            raise ValueError(f"AURA_SANDBOX_PORT_BASE={raw_base!r} is not a port from 1024 to 65530")
        base = int(raw_base)
        prefix = os.environ.get("AURA_SANDBOX_PREFIX", "aura-api")
        image_repository()  # a bad value is refused here, before anything starts
        raw_pool = os.environ.get("AURA_SANDBOX_STATUS_POOL", "1")
        if raw_pool not in ("0", "1"):
            raise ValueError(f"AURA_SANDBOX_STATUS_POOL={raw_pool!r} is not 0 or 1")
        raw_tls = os.environ.get("AURA_SANDBOX_TLS", "1")
        if raw_tls not in ("0", "1"):
            raise ValueError(f"AURA_SANDBOX_TLS={raw_tls!r} is not 0 or 1")
        return cls(state=state.resolve(), ports=Ports.from_base(base), container_prefix=prefix,
                   status_pool=raw_pool == "1", tls=raw_tls == "1")

    # -- files ------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.state / "sandbox.toml"

    @property
    def secrets_path(self) -> Path:
        """The database password, mode 0600; generated once per state folder."""
        return self.state / "secrets.toml"

    @property
    def tls_dir(self) -> Path:
        """The sandbox's CA and the front's certificate (tls.py); the keys 0600."""
        return self.state / "tls"

    @property
    def pg_dir(self) -> Path:
        return self.state / "pg"

    @property
    def nginx_dir(self) -> Path:
        return self.state / "nginx"

    @property
    def nginx_conf(self) -> Path:
        return self.nginx_dir / "nginx.staging.conf"

    @property
    def nginx_backup(self) -> Path:
        return self.nginx_dir / "nginx.staging.conf.backup"

    @property
    def upstream_include(self) -> Path:
        return self.nginx_dir / "upstream.conf"

    @property
    def nginx_error_log(self) -> Path:
        return self.nginx_dir / "error.log"

    @property
    def nginx_pid(self) -> Path:
        return self.nginx_dir / "nginx.pid"

    @property
    def engine_dir(self) -> Path:
        return self.state / "engine"

    @property
    def podman_socket(self) -> Path:
        return self.engine_dir / "podman.sock"

    @property
    def alerts_dir(self) -> Path:
        return self.state / "alerts"

    @property
    def audit_log(self) -> Path:
        return self.state / "rollback-audit.log"

    @property
    def rollback_lock(self) -> Path:
        """The runbook rollback's own lock, next to the config (tools/config.py's lock_file)."""
        return self.state / "rollback.lock"

    @property
    def image_cache(self) -> Path:
        """Downloaded .deb files and built rootfs tarballs; shared by every state folder."""
        return Path(os.environ.get("AURA_SANDBOX_CACHE", "/var/tmp/aura-sandbox-cache"))

    @property
    def hosts_dir(self) -> Path:
        """The hosts layout's runner-side files: keys, known_hosts, the wrapper, sshd's files."""
        return self.state / "hosts"

    @property
    def layout_file(self) -> Path:
        """Which layout is up ("single" or "hosts"): `down`, `status` and a switching `up` read it."""
        return self.state / "layout"

    # -- names ------------------------------------------------------------------------------
    def container_name(self, pool: str) -> str:
        return {"api_v1": f"{self.container_prefix}-v1", "api_v2": f"{self.container_prefix}-v2"}[pool]

    @property
    def front_container(self) -> str:
        return f"{self.container_prefix}-front"

    def pool_port(self, pool: str) -> int:
        return {"api_v1": self.ports.api_v1, "api_v2": self.ports.api_v2}[pool]
