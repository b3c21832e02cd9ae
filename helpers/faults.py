"""Faults a drill injects, each with the observation that proves it took effect.

An injector changes the target; an observer looks at the target (probe answers, `nginx -t`, SQL,
the engine) and says whether the fault is visible, latent or not there at all. The injector's own
exit status proves nothing: a fault that did nothing must leave the drill failing.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from helpers import commands, nginx_ops
from helpers.clock import REAL, Clock
from helpers.config import TargetConfig
from helpers.probe import Probe

OBSERVE_TIMEOUT_S = 10.0
SWITCH_TIMEOUT_S = 60


@dataclass
class Observation:
    observed: str       # visible | latent | none
    detail: str


def _wait_for_sample(probe: Probe, since: float, predicate, timeout_s: float, clock: Clock = REAL):
    deadline = clock.monotonic() + timeout_s
    while clock.monotonic() < deadline:
        for s in probe.samples(since=since):
            if predicate(s):
                return s
        clock.sleep(probe.interval_s)
    return None


# -- upstream ---------------------------------------------------------------------------------

def switch_traffic(cfg: TargetConfig, probe: Probe, pool: str = "api_v2", clock: Clock = REAL) -> Observation:
    """The runbook's `deploy/switch_upstream.sh --target api_v2`; seen when the front answers from it."""
    since = clock.monotonic()
    result = commands.run(cfg.commands.switch_upstream, ["--target", pool], timeout=SWITCH_TIMEOUT_S)
    seen = _wait_for_sample(probe, since, lambda s: s.pool == pool, OBSERVE_TIMEOUT_S, clock)
    if seen is None:
        return Observation("none", f"switch_upstream exit {result.exit_code}, but no probe answer came from {pool}")
    return Observation("visible", f"probe answers from {pool} ({seen.describe()}) after the switch")


# -- nginx ------------------------------------------------------------------------------------

def _backup_then_write(cfg: TargetConfig, text: str) -> None:
    """The runbook's first step: `cp nginx.staging.conf nginx.staging.conf.backup`, then the edit."""
    shutil.copyfile(cfg.nginx.conf, cfg.nginx.backup)
    Path(cfg.nginx.conf).write_text(text, encoding="utf-8")


def nginx_invalid_config(cfg: TargetConfig, probe: Probe, clock: Clock = REAL) -> Observation:
    """The runbook's own scenario: append `invalid_config`, `nginx -s reload`. nginx refuses the
    broken config and serves on with the old one: latent (it bites at the next restart)."""
    original = Path(cfg.nginx.conf).read_text(encoding="utf-8")
    _backup_then_write(cfg, original + "\ninvalid_config\n")
    since = clock.monotonic()
    nginx_ops.reload(cfg)  # expected to be refused
    test = nginx_ops.config_test(cfg)
    failing = _wait_for_sample(probe, since, lambda s: not s.healthy, 1.0, clock)
    if failing is not None:
        return Observation("visible", f"probe saw {failing.describe()} after the reload")
    if not test.ok:
        return Observation("latent", "nginx -t fails on the live config while the front keeps serving: "
                                     + (test.stderr.strip().splitlines() or ["?"])[-1])
    return Observation("none", "nginx -t still passes and the front is healthy")


_SERVER_BLOCK = re.compile(r"(\bserver\s*\{)")


def nginx_breaks_serving(cfg: TargetConfig, probe: Probe, clock: Clock = REAL) -> Observation:
    """A config that passes `nginx -t` but answers 503 to everything: every server block returns
    503 before any location is chosen. Visible as soon as nginx reloads."""
    original = Path(cfg.nginx.conf).read_text(encoding="utf-8")
    broken, count = _SERVER_BLOCK.subn(r"\1 return 503; ", original)
    if count == 0:
        return Observation("none", f"{cfg.nginx.conf} has no server block to break")
    _backup_then_write(cfg, broken)
    test = nginx_ops.config_test(cfg)
    since = clock.monotonic()
    nginx_ops.reload(cfg)
    failing = _wait_for_sample(probe, since, lambda s: not s.healthy, OBSERVE_TIMEOUT_S, clock)
    if failing is None:
        return Observation("none", f"nginx -t exit {test.exit_code}; the front stayed healthy after the reload")
    return Observation("visible", f"nginx -t passes ({test.ok}) yet the front answers {failing.describe()}")


# -- image, database, release -----------------------------------------------------------------

def bad_image(cfg: TargetConfig, probe: Probe, clock: Clock = REAL) -> Observation:
    """api_v1 recreated from [docker] bad_tag through the Docker API (name, env, port, pool kept);
    seen when the engine runs the bad image and the probe sees the front fail."""
    from helpers.docker_runtime import container_info, image_id_of, recreate_with_image

    bad_ref = f"{cfg.docker.image}:{cfg.docker.bad_tag}"
    before = container_info(cfg.docker.url, cfg.services.api_v1)
    recreate_with_image(cfg.docker.url, cfg.services.api_v1, bad_ref)
    # Observed from here on: the blip of the recreate itself is not the bad image failing.
    since = clock.monotonic()
    bad_id = image_id_of(cfg.docker.url, bad_ref)
    info = container_info(cfg.docker.url, cfg.services.api_v1)
    if info is None or info.image_id != bad_id:
        return Observation("none", f"the engine does not run {bad_ref} as {cfg.services.api_v1}")
    if before is not None and before.image_id == bad_id:
        return Observation("none", f"{bad_ref} is the image {cfg.services.api_v1} already ran")
    failing = _wait_for_sample(probe, since, lambda s: not s.healthy, OBSERVE_TIMEOUT_S, clock)
    if failing is None:
        return Observation("none", f"{cfg.services.api_v1} runs {bad_ref} but the front stayed healthy")
    return Observation("visible", f"{cfg.services.api_v1} runs {bad_ref}; the front answers {failing.describe()}")


def bad_migration(cfg: TargetConfig, probe: Probe, clock: Clock = REAL) -> Observation:
    """The migrate command to [database] bad_revision; seen when SQL reads the revision back and
    the probe sees /healthz fail."""
    from helpers.fingerprint import read_db_revision

    result = commands.run(cfg.commands.migrate, [cfg.database.bad_revision], timeout=120)
    since = clock.monotonic()  # failures while the migration ran are not the bad revision's
    revision = read_db_revision(cfg.database.url)
    if revision != cfg.database.bad_revision:
        return Observation("none", f"migrate exit {result.exit_code}; the database is at {revision}, "
                                   f"not {cfg.database.bad_revision}")
    failing = _wait_for_sample(probe, since, lambda s: not s.healthy, OBSERVE_TIMEOUT_S, clock)
    if failing is None:
        return Observation("none", f"database at {revision}, but the front stayed healthy")
    return Observation("visible", f"database at {revision} (read by SQL); the front answers {failing.describe()}")


def bad_release(cfg: TargetConfig, probe: Probe, clock: Clock = REAL) -> Observation:
    """A bad release: bad image on api_v1, bad migration, and traffic on api_v2 — all three seen."""
    # Order matters for observing each part: the bad image is seen while traffic is on api_v1;
    # the switch happens while api_v2 is still healthy (a deploy tool refuses an unhealthy
    # target); the bad migration is then seen failing api_v2 as well.
    parts = []
    for inject in (bad_image, lambda c, p, k: switch_traffic(c, p, "api_v2", k), bad_migration):
        parts.append(inject(cfg, probe, clock))
        if parts[-1].observed == "none":
            break
    unseen = [p.detail for p in parts if p.observed == "none"]
    if unseen:
        return Observation("none", "; ".join(unseen))
    return Observation("visible", " | ".join(p.detail for p in parts))
