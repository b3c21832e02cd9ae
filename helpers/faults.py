"""Faults a drill injects, each with the observation that proves it took effect.

An injector changes the target; an observer looks at the target (probe answers, `nginx -t`, SQL,
the engine) and says whether the fault is visible, latent or not there at all. The injector's own
exit status proves nothing: a fault that did nothing must leave the drill failing.

Every injector takes the target's config, the probe and the clock, and names the Target's adapters
it acts through as keyword-only parameters (`front`: where the nginx files live and nginx's
commands run; `database`: the schema's revision); the fault fixture hands it those.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from helpers import commands, nginx_ops
from helpers.clock import REAL, Clock
from helpers.compose import compose_of, override_text
from helpers.config import TargetConfig
from helpers.container_swap import recreate_with_image
from helpers.database import Database
from helpers.engine_api import Engine
from helpers.fingerprint import active_pool
from helpers.front import Front
from helpers.probe import Probe, Sample
from helpers.readiness import STEADY_S
from helpers.wait import Wait

OBSERVE_TIMEOUT_S = 10.0
SWITCH_TIMEOUT_S = 60
# How long a freshly (re)created container may stay unanswering before that counts as the fault
# showing: a container booting is not a fault, one that never answers is.
BOOT_GRACE_S = 30.0
# What a front answers itself when its upstream is down or booting (nginx: 502, 504): not an
# answer from the service.
GATEWAY_DOWN = frozenset({502, 504})


@dataclass
class Observation:
    observed: str       # visible | latent | none
    detail: str
    # Re-checked right before t0: None while the fault holds, else what the target shows instead.
    # A target that healed itself (a watchdog, an orchestrator) must not pass with an RTO of ~0.
    recheck: Callable[[], str | None] | None = field(default=None, repr=False, compare=False)

    def gone(self) -> str | None:
        return None if self.recheck is None else self.recheck()


def _wait_for_sample(probe: Probe, since: float, predicate, timeout_s: float, clock: Clock = REAL):
    return Wait("a probe answer showing the fault", timeout_s, probe.interval_s, clock).poll(
        lambda: next((s for s in probe.samples(since=since) if predicate(s)), None))


def healed_steadily(probe: Probe, healed, streak: int, clock: Clock = REAL,
                    timeout_s: float = OBSERVE_TIMEOUT_S) -> Sample | None:
    """The last of the first `streak` answers to requests sent from now on, if every one of them
    shows the target healed; None as soon as one does not (or the probe saw too few). One answer
    is not enough: after a reload nginx's old workers answer for ~100 ms more, so single answers
    from the same moment disagree (seen: healthz 200 from an old worker, /status 503 from a new)."""
    now = clock.monotonic()
    for _ in Wait(f"{streak} answers showing the target healed", timeout_s, probe.interval_s, clock).rounds():
        fresh = [s for s in probe.samples(since=now) if s.sent_at >= now]
        if any(not healed(s) for s in fresh[:streak]):
            return None
        if len(fresh) >= streak:
            return fresh[streak - 1]
    return None


def _service_answered(s: Sample) -> bool:
    """An unhealthy answer that came from the service itself (it showed its /status, or the
    status is not the front's own "upstream down"), not the gap while a container boots."""
    return s.status is not None and (s.version is not None or s.status not in GATEWAY_DOWN)


def watch_after_change(probe: Probe, since: float, *, streak: int, grace_s: float,
                       clock: Clock = REAL) -> tuple[str, Sample | None]:
    """How the front behaves after a change at `since`, judged on answers to requests sent after it:
    ("bad", s) the service answered unhealthy; ("green", s) `streak` consecutive healthy answers;
    ("unanswering", last) no answer from the service for `grace_s`."""
    last = None
    for _ in Wait("the service to answer after the change", grace_s, probe.interval_s, clock).rounds():
        run = 0
        for s in probe.samples():
            if s.sent_at < since:
                continue
            last = s
            if s.healthy:
                run += 1
                if run >= streak:
                    return "green", s
            elif _service_answered(s):
                return "bad", s
            else:
                run = 0
    return "unanswering", last


# -- upstream ---------------------------------------------------------------------------------

def _front_on(probe: Probe, pool: str, streak: int, clock: Clock):
    def recheck() -> str | None:
        # healed: answers from another pool (no answer is not a healed target)
        s = healed_steadily(probe, lambda s: s.pool is not None and s.pool != pool, streak, clock)
        return None if s is None else f"the front answers {s.describe()}, not from {pool}"
    return recheck


def _include_names(cfg: TargetConfig, front: Front) -> str | None:
    try:
        text = front.read_bytes(cfg.nginx.upstream_include).decode("utf-8")
    except FileNotFoundError:
        return None
    return active_pool(text, cfg.upstreams.items())


def _switch_seen_in_include(cfg: TargetConfig, front: Front, pool: str, result) -> Observation:
    """An app whose answers cannot name their pool (no pool in /status, both pools on one
    release): the upstream include is the only witness, so the fault is latent, never "none"."""
    named = _include_names(cfg, front)
    if named != pool:
        return Observation("none", f"switch_upstream exit {result.exit_code}, but the upstream include names "
                                   f"{named}, not {pool}")

    def recheck() -> str | None:
        now = _include_names(cfg, front)
        return None if now == pool else f"the upstream include names {now}, not {pool}"
    return Observation("latent", f"the upstream include names {pool} after the switch (/status shows no pool and "
                                 "both pools serve one release: answers cannot show it)", recheck)


def switch_traffic(cfg: TargetConfig, probe: Probe, pool: str = "api_v2", clock: Clock = REAL, *,
                   front: Front) -> Observation:
    """The runbook's `deploy/switch_upstream.sh --target api_v2`; seen when the front answers from it
    (or, when no answer can name its pool, in the upstream include on `front`: latent)."""
    since = clock.monotonic()
    result = commands.run(cfg.commands.switch_upstream, ["--target", pool], timeout=SWITCH_TIMEOUT_S)
    if not probe.status.shows_pool:
        return _switch_seen_in_include(cfg, front, pool, result)
    seen = _wait_for_sample(probe, since, lambda s: s.pool == pool, OBSERVE_TIMEOUT_S, clock)
    if seen is None:
        return Observation("none", f"switch_upstream exit {result.exit_code}, but no probe answer came from {pool}")
    return Observation("visible", f"probe answers from {pool} ({seen.describe()}) after the switch",
                       _front_on(probe, pool, cfg.probe.healthy_streak, clock))


# -- nginx ------------------------------------------------------------------------------------

def _backup_then_write(cfg: TargetConfig, front: Front, text: str) -> None:
    """The runbook's first step: `cp nginx.staging.conf nginx.staging.conf.backup`, then the edit."""
    front.copy(cfg.nginx.conf, cfg.nginx.backup)
    front.write_bytes(cfg.nginx.conf, text.encode("utf-8"))


def _nginx_test_fails(cfg: TargetConfig, front: Front):
    def recheck() -> str | None:
        return None if not nginx_ops.config_test(front, cfg).ok else "nginx -t passes again on the live config"
    return recheck


def first_failure_unless_steady(probe: Probe, since: float, streak: int, steady_s: float, timeout_s: float,
                                clock: Clock = REAL) -> Sample | None:
    """The first unhealthy answer after `since`; None once the front stayed green: `streak`
    consecutive healthy answers to requests sent after `since`, spanning at least `steady_s`
    (the time old nginx workers go on answering after a reload), or at `timeout_s`."""
    for _ in Wait("a failure, or the front steady", timeout_s, probe.interval_s, clock).rounds():
        run: list[Sample] = []
        for s in probe.samples(since=since):
            if not s.healthy:
                return s
            if s.sent_at >= since:
                run.append(s)
        if len(run) >= streak and run[-1].t - run[0].t >= steady_s:
            return None
    return None


def nginx_invalid_config(cfg: TargetConfig, probe: Probe, clock: Clock = REAL, *, front: Front) -> Observation:
    """The runbook's own scenario: append `invalid_config`, `nginx -s reload`. nginx refuses the
    broken config and serves on with the old one: latent (it bites at the next restart). Visible
    if the probe sees a failure before the front has answered healthy `healthy_streak` times over
    the readiness rule's steady span (a reload that took effect shows within 15-50 ms)."""
    original = front.read_text(cfg.nginx.conf)
    _backup_then_write(cfg, front, original + "\ninvalid_config\n")
    since = clock.monotonic()
    nginx_ops.reload(front, cfg)  # expected to be refused
    test = nginx_ops.config_test(front, cfg)
    failing = first_failure_unless_steady(probe, since, cfg.probe.healthy_streak, STEADY_S, 1.0, clock)
    if failing is not None:
        return Observation("visible", f"probe saw {failing.describe()} after the reload", _nginx_test_fails(cfg, front))
    if not test.ok:
        return Observation("latent", "nginx -t fails on the live config while the front keeps serving: "
                                     + (test.stderr.strip().splitlines() or ["?"])[-1], _nginx_test_fails(cfg, front))
    return Observation("none", "nginx -t still passes and the front is healthy")


_SERVER_BLOCK = re.compile(r"(\bserver\s*\{)")


def _front_unhealthy(probe: Probe, streak: int, clock: Clock):
    def recheck() -> str | None:
        # healed: healthy, and /status answered too
        s = healed_steadily(probe, lambda s: s.healthy and s.version is not None and s.error is None,
                            streak, clock)
        return None if s is None else f"the front answers {s.describe()} again"
    return recheck


def nginx_breaks_serving(cfg: TargetConfig, probe: Probe, clock: Clock = REAL, *, front: Front) -> Observation:
    """A config that passes `nginx -t` but answers 503 to everything: every server block returns
    503 before any location is chosen. Visible as soon as nginx reloads."""
    original = front.read_text(cfg.nginx.conf)
    broken, count = _SERVER_BLOCK.subn(r"\1 return 503; ", original)
    if count == 0:
        return Observation("none", f"{cfg.nginx.conf} has no server block to break")
    _backup_then_write(cfg, front, broken)
    test = nginx_ops.config_test(front, cfg)
    since = clock.monotonic()
    nginx_ops.reload(front, cfg)
    failing = _wait_for_sample(probe, since, lambda s: not s.healthy, OBSERVE_TIMEOUT_S, clock)
    if failing is None:
        return Observation("none", f"nginx -t exit {test.exit_code}; the front stayed healthy after the reload")
    return Observation("visible", f"nginx -t passes ({test.ok}) yet the front answers {failing.describe()}",
                       _front_unhealthy(probe, cfg.probe.healthy_streak, clock))


# -- image, database, release -----------------------------------------------------------------

def _verdict(seen: str, sample: Sample | None, grace_s: float, where: str, how: str) -> tuple[str, str]:
    """(observed, detail) from watch_after_change: the service answering badly, or not at all past
    the grace period, is visible; a front that stays green leaves it latent (seen by `how`)."""
    last = sample.describe() if sample is not None else "nothing"
    if seen == "bad":
        return "visible", f"{where}; the front answers {last}"
    if seen == "unanswering":
        return "visible", f"{where}; the service did not answer for {grace_s:g}s (last: {last})"
    return "latent", f"{where} ({how}) while the front stays green ({last})"


def deploy_through_compose(cfg: TargetConfig, front: Front, name: str, image: str, override: Path) -> None:
    """How a team deploys a test version of a compose service: an override file of the drill's own
    (in its state folder, never named *compose.override.y*ml, never an edit of the team's files),
    then `up -d --no-deps` for that service with the override last."""
    compose = compose_of(cfg, front)
    assert compose is not None
    service = compose.services_of([name])[name]
    front.write_bytes(override, override_text(service, image).encode("utf-8"))
    compose.up([service], extra_files=[override])


def bad_image(cfg: TargetConfig, probe: Probe, clock: Clock = REAL, *, engine: Engine,
              front: Front | None = None, override: Path | None = None) -> Observation:
    """api_v1 on [docker] bad_tag. With [compose] compose deploys it through the `front`
    (deploy_through_compose; `override`: where the drill's override file goes); without, it is
    recreated through the engine's API: a clone of its whole definition on the bad image, marked as
    the suite's and without compose's own labels. The engine must run the bad image; the probe then
    shows it visible (the new container answers badly, or not at all past a boot grace period) or
    latent (the front stays green)."""
    name = cfg.services.api_v1
    bad_ref = f"{cfg.docker.image}:{cfg.docker.bad_tag}"
    before = engine.container_info(name)
    if cfg.compose is not None and front is not None and override is not None:
        deploy_through_compose(cfg, front, name, bad_ref, override)
    else:
        recreate_with_image(engine, name, bad_ref)
    # Judged on requests sent from here on: the blip of the recreate itself is not the fault.
    since = clock.monotonic()
    bad_id = engine.image_id_of(bad_ref)
    info = engine.container_info(name)
    if info is None or info.image_id != bad_id:
        return Observation("none", f"the engine does not run {bad_ref} as {name}")
    if before is not None and before.image_id == bad_id:
        return Observation("none", f"{bad_ref} is the image {name} already ran")

    def recheck() -> str | None:
        now = engine.container_info(name)
        if now is not None and now.image_id == bad_id:
            return None
        return f"{name} runs {now.ref if now else 'nothing'}, not {bad_ref}"

    seen, sample = watch_after_change(probe, since, streak=cfg.probe.healthy_streak, grace_s=BOOT_GRACE_S,
                                      clock=clock)
    observed, detail = _verdict(seen, sample, BOOT_GRACE_S, f"{name} runs {bad_ref}",
                                f"engine: image {bad_id[:19] if bad_id else '?'}")
    return Observation(observed, detail, recheck)


def bad_migration(cfg: TargetConfig, probe: Probe, clock: Clock = REAL, *, database: Database) -> Observation:
    """The migrate command to [database] bad_revision; SQL must read the revision back; the probe
    then shows it visible (/healthz fails) or latent (the front stays green)."""
    bad = cfg.database.bad_revision
    result = commands.run(cfg.commands.migrate, [bad], timeout=120)
    since = clock.monotonic()  # failures while the migration ran are not the bad revision's
    revision = database.revision()
    if revision != bad:
        return Observation("none", f"migrate exit {result.exit_code}; the database is at {revision}, not {bad}")

    def recheck() -> str | None:
        now = database.revision()
        return None if now == bad else f"the database is at {now}, not {bad}"

    seen, sample = watch_after_change(probe, since, streak=cfg.probe.healthy_streak, grace_s=OBSERVE_TIMEOUT_S,
                                      clock=clock)
    observed, detail = _verdict(seen, sample, OBSERVE_TIMEOUT_S, f"database at {revision}", "read by SQL")
    return Observation(observed, detail, recheck)


def bad_release(cfg: TargetConfig, probe: Probe, clock: Clock = REAL, *, database: Database,
                engine: Engine, front: Front, override: Path | None = None) -> Observation:
    """A bad release: bad image on api_v1, bad migration, and traffic on api_v2 — all three seen."""
    # Order matters for observing each part: the bad image is seen while traffic is on api_v1;
    # the switch happens while api_v2 is still healthy (a deploy tool refuses an unhealthy
    # target); the bad migration is then seen failing api_v2 as well.
    parts: list[Observation] = []
    steps: list[Callable[[], Observation]] = [lambda: bad_image(cfg, probe, clock, engine=engine, front=front,
                                                                  override=override),
                                               lambda: switch_traffic(cfg, probe, "api_v2", clock, front=front),
                                               lambda: bad_migration(cfg, probe, clock, database=database)]
    for step in steps:
        parts.append(step())
        if parts[-1].observed == "none":
            break
    unseen = [p.detail for p in parts if p.observed == "none"]
    if unseen:
        return Observation("none", "; ".join(unseen))

    def recheck() -> str | None:
        return next((why for p in parts if (why := p.gone()) is not None), None)

    observed = "visible" if any(p.observed == "visible" for p in parts) else "latent"
    return Observation(observed, " | ".join(f"{p.observed}: {p.detail}" for p in parts), recheck)
