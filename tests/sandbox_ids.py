"""Who each extra sandbox is: the one place that names the sandboxes tests and benches start
beside the run's own, and how each derives its identity from the run's.

The run's own sandbox is named by the environment (sandbox/layout.py):

    AURA_SANDBOX_STATE             state folder        (unset: /var/tmp/aura-sandbox)
    AURA_SANDBOX_PORT_BASE         first port          (unset: 18080)
    AURA_SANDBOX_PREFIX            container prefix    (unset: aura-api)
    AURA_SANDBOX_IMAGE_REPOSITORY  image repository    (unset: aura-api)

Every extra sandbox derives its four from those, so two checkouts run with different
AURA_SANDBOX_* run the whole test suite (and the benches) side by side and share nothing:

    state       $AURA_SANDBOX_STATE-<name>    unset: the folder in LEGACY below (today's, unchanged)
    ports       $AURA_SANDBOX_PORT_BASE + offset, a block of ten each (sandbox/layout.py: Ports);
                every offset is in 0..1999, so a checkout owns exactly base .. base+1999
    prefix      $AURA_SANDBOX_PREFIX-<name>   unset: the prefix in LEGACY below
    images      the run's own repository (same checkout, same build hashes: sharing saves builds),
                or <repository>-<suffix> for a sandbox that must not share it (the workflow
                test's fresh clone, whose hashes may differ from a dirty working tree's)

With nothing set, every number and name is what it was before this module existed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_PORT_BASE = 18080
DEFAULT_IMAGE_REPOSITORY = "aura-api"
PORT_SPAN = 2000  # a checkout's ports: base .. base+1999


@dataclass(frozen=True)
class Extra:
    offset: int            # from the run's port base; a block of ten
    legacy_state: str      # the state folder when AURA_SANDBOX_STATE is unset
    legacy_prefix: str     # the container prefix when AURA_SANDBOX_PREFIX is unset
    own_images: str = ""   # a suffix: this sandbox gets <repository>-<suffix>, not the run's own


# name -> identity. Two names may share a block only where the table says why.
EXTRAS: dict[str, Extra] = {
    "bench-hosts": Extra(10, "/var/tmp/aura-sandbox-hosts", "aura-apih"),       # bench_drills --hosts
    "bench-plain": Extra(20, "/var/tmp/aura-sandbox-plain", "aura-apip"),       # bench_drills --tls
    # another checkout builds other API images: its own repository, or it retags the run's own
    "bench-hosts-before": Extra(30, "/var/tmp/aura-sandbox-hosts0", "aura-apih0", own_images="before"),  # --compare
    "images": Extra(100, "/var/tmp/aura-test-images", "aura-imgtest"),           # test_images_and_containers
    # test_runbook_commands and bench_rollbacks: one instance, as before (never run together)
    "scripts": Extra(200, "/var/tmp/aura-scripts", "aura-scripts"),
    "life": Extra(400, "/var/tmp/aura-t-life", "aura-life"),                      # test_sandbox_lifecycle
    "never": Extra(500, "/var/tmp/aura-t-never", "aura-never"),                   # ... one never brought up
    "bench-up": Extra(600, "/var/tmp/aura-bench-up", "aura-bench"),               # bench_sandbox_up
    "runtime": Extra(700, "/var/tmp/aura-t-runtime", "aura-rt"),                  # test_runtime_helpers
    "chaos": Extra(1000, "/var/tmp/aura-chaos", "aura-chaos"),                    # bench_chaos_vs_drill
    "hosts": Extra(1100, "/var/tmp/aura-t-hosts", "aura-thosts"),                 # test_hosts_layout
    # the hosts layout's refused `up`s share its block: they run before it comes up, check the
    # block is free first, and must start nothing on it
    "hosts-bad": Extra(1100, "/var/tmp/aura-t-hosts-bad", "aura-thostsbad"),
    "remote": Extra(1300, "/var/tmp/aura-t-remote", "aura-tremote"),              # test_remote_front
    "workflow": Extra(1400, "/var/tmp/aura-wf-sandbox", "aura-wf", own_images="wf"),  # test_nightly_workflow
    "dbsize": Extra(1600, "/var/tmp/aura-bench-dbsize", "aura-bench-dbsize"),     # bench_database_size
    "front-contract": Extra(1800, "/var/tmp/aura-t-front-contract", "aura-tfc"),  # test_front_contract
    "forward": Extra(1900, "/var/tmp/aura-t-forward", "aura-tfwd"),               # test_front_forwards
}


@dataclass(frozen=True)
class SandboxId:
    """One sandbox's identity: what `python -m sandbox` reads from AURA_SANDBOX_*."""
    state: str
    port_base: int
    prefix: str
    image_repository: str

    def env(self) -> dict[str, str]:
        """The AURA_SANDBOX_* that name this sandbox (merge over os.environ)."""
        return {"AURA_SANDBOX_STATE": self.state, "AURA_SANDBOX_PORT_BASE": str(self.port_base),
                "AURA_SANDBOX_PREFIX": self.prefix, "AURA_SANDBOX_IMAGE_REPOSITORY": self.image_repository}


def run_port_base(environ: dict[str, str] | None = None) -> int:
    return int((environ if environ is not None else os.environ).get("AURA_SANDBOX_PORT_BASE")
               or DEFAULT_PORT_BASE)


def run_image_repository(environ: dict[str, str] | None = None) -> str:
    return ((environ if environ is not None else os.environ).get("AURA_SANDBOX_IMAGE_REPOSITORY")
            or DEFAULT_IMAGE_REPOSITORY)


def extra(name: str, environ: dict[str, str] | None = None) -> SandboxId:
    """The identity of the extra sandbox `name` (a key of EXTRAS) for this run."""
    env = environ if environ is not None else os.environ
    spec = EXTRAS[name]
    state, prefix = env.get("AURA_SANDBOX_STATE"), env.get("AURA_SANDBOX_PREFIX")
    repository = run_image_repository(env)
    return SandboxId(state=f"{state.rstrip('/')}-{name}" if state else spec.legacy_state,
                     port_base=run_port_base(env) + spec.offset,
                     prefix=f"{prefix}-{name}" if prefix else spec.legacy_prefix,
                     image_repository=f"{repository}-{spec.own_images}" if spec.own_images else repository)


def scratch_path(name: str, environ: dict[str, str] | None = None) -> str:
    """A path beside this run's state folders that nothing creates (a socket that never answers,
    a scratch folder): `$AURA_SANDBOX_STATE-<name>`, unset: /var/tmp/aura-<name>."""
    state = (environ if environ is not None else os.environ).get("AURA_SANDBOX_STATE")
    return f"{state.rstrip('/')}-{name}" if state else f"/var/tmp/aura-{name}"


def runner_account(environ: dict[str, str] | None = None) -> str:
    """The workflow test's throwaway user account (made and removed by the test), per checkout:
    `$AURA_SANDBOX_PREFIX-ci-runner` (at most 32 characters, useradd's limit), unset: aura-ci-runner."""
    prefix = (environ if environ is not None else os.environ).get("AURA_SANDBOX_PREFIX")
    return f"{prefix}-ci-runner"[:32] if prefix else "aura-ci-runner"


def cache_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The run's package cache, for a sandbox started with a clean environment (`env -i`): the
    checkout's own when AURA_SANDBOX_CACHE is set, else nothing (the sandbox's default)."""
    cache = (environ if environ is not None else os.environ).get("AURA_SANDBOX_CACHE")
    return {"AURA_SANDBOX_CACHE": cache} if cache else {}
