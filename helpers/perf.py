"""The runbook's performance smoke test after a rollback: N sequential requests through the front.

GET `/healthz` and `/status` alternately, one at a time on one client (as a checking engineer's
`curl` loop would), bounded by count and by total time. An error is any answer other than 200, or
no answer. Percentiles are nearest-rank over every request's latency (errors included: a slow
failure is still slow). The check passes with every request made, no error, and p95 <= `p95_ms`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from helpers import commands
from helpers.clock import REAL, Clock
from helpers.commands import CommandResult
from helpers.http_clients import HttpClients
from helpers.redact import one_line

__all__ = ["PATHS", "PerfResult", "nearest_rank", "perf_smoke", "smoke_env", "team_smoke"]

PATHS = ("/healthz", "/status")


@dataclass(frozen=True)
class PerfResult:
    requests: int            # made (may be fewer than asked when the time bound hit)
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None
    ok: bool
    problem: str | None      # why not ok, one line; None when ok

    def to_dict(self) -> dict[str, float | int | None]:
        """The figures for DrillOutcome.perf / the report."""
        r = lambda v: None if v is None else round(v, 2)  # noqa: E731
        return {"requests": self.requests, "errors": self.errors, "p50_ms": r(self.p50_ms),
                "p95_ms": r(self.p95_ms), "max_ms": r(self.max_ms)}


def nearest_rank(values: Sequence[float], percent: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least `percent`% at or below it."""
    if not values:
        return None
    if not 0 < percent <= 100:
        raise ValueError("percent must be in (0, 100]")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1]


REQUEST_TIMEOUT_S = 2.0
MAX_SECONDS = 60.0
BOUND_S = MAX_SECONDS + REQUEST_TIMEOUT_S    # the last request may start just before MAX_SECONDS


def perf_smoke(base_url: str, requests: int, p95_ms: float, *, http: HttpClients,
               timeout_s: float = REQUEST_TIMEOUT_S, max_seconds: float = MAX_SECONDS,
               clock: Clock = REAL) -> PerfResult:
    if requests <= 0:
        raise ValueError("requests must be > 0")
    base = base_url.rstrip("/")
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    start = clock.monotonic()
    with http.client(timeout=timeout_s, follow_redirects=False) as client:
        for i in range(requests):
            if clock.monotonic() - start >= max_seconds:
                break
            path = PATHS[i % len(PATHS)]
            sent = clock.monotonic()
            try:
                status = client.get(base + path).status_code
                error = None if status == 200 else f"GET {path}: HTTP {status}"
            except httpx.HTTPError as e:
                error = f"GET {path}: {type(e).__name__}: {e}"
            latencies.append((clock.monotonic() - sent) * 1000)
            if error:
                errors += 1
                first_error = first_error or error
    made = len(latencies)
    p95 = nearest_rank(latencies, 95)
    problems = []
    if made < requests:
        problems.append(f"only {made} of {requests} requests within {max_seconds:g}s")
    if errors:
        problems.append(f"{errors} of {made} requests failed (first: {first_error})")
    if p95 is not None and p95 > p95_ms:
        problems.append(f"p95 {p95:.1f} ms > {p95_ms:g} ms")
    return PerfResult(requests=made, errors=errors, p50_ms=nearest_rank(latencies, 50),
                      p95_ms=p95, max_ms=max(latencies) if latencies else None,
                      ok=not problems,
                      problem=one_line("perf smoke: " + "; ".join(problems)) if problems else None)


def smoke_env(cfg) -> dict[str, str]:
    """What `[commands] perf_smoke` is told about the target: its URLs (and the CA bundle's path);
    never a header or a token (the team's command takes its own secrets from its environment)."""
    env = {"DRILL_TARGET_NAME": cfg.target.name, "DRILL_BASE_URL": cfg.target.base_url,
           "DRILL_API_URL": cfg.target.api_url}
    if cfg.http.ca_file:
        env["DRILL_CA_FILE"] = str(cfg.http.ca_file)
    return env


def team_smoke(cfg) -> CommandResult:
    """The team's own smoke test (`[commands] perf_smoke`), run as written (no arguments appended),
    bound by `[perf] smoke_timeout_s`; its exit status is the verdict."""
    return commands.run(cfg.commands.perf_smoke, [], timeout=cfg.perf.smoke_timeout_s, extra_env=smoke_env(cfg))
