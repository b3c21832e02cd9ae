"""The availability probe: a background thread that asks the target "are you up, and as what?".

Every `interval_ms` it GETs `base_url/healthz` and `base_url/status` and records one `Sample`: when
the answer arrived (monotonic), the healthz status, its latency, the version and pool `/status`
reports (where `[status]` says; `StatusFields`), and the error if there was no answer. The RTO
(helpers.rto) is computed from these samples afterwards, so the sampler itself judges nothing; it
only has to keep a steady cadence and never die (any exception becomes a sample with an error).

Timeouts are short on purpose: a hung request would stall the cadence, and on loopback a healthy
answer takes milliseconds.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import httpx

from helpers.clock import REAL, Clock
from helpers.http_clients import HttpClients
from helpers.redact import one_line
from helpers.wait import Wait

__all__ = ["Probe", "ProbeSummary", "Sample", "StatusFields", "longest_outage", "parse_status", "summarize"]


@dataclass(frozen=True)
class Sample:
    t: float                   # monotonic: when the answer (healthz + status) was complete
    status: int | None         # healthz HTTP status; None when no answer
    latency_ms: float          # of the healthz request
    version: str | None        # from /status
    pool: str | None           # from /status
    error: str | None = None   # why there was no (usable) answer
    sent: float | None = None  # monotonic: when the healthz request was sent (None: same as t)

    @property
    def sent_at(self) -> float:
        return self.t if self.sent is None else self.sent

    @property
    def healthy(self) -> bool:
        return self.status == 200

    def matches(self, version: str | None = None, pool: str | None = None) -> bool:
        """Healthy and showing the expected version and pool (None: any)."""
        return (self.healthy and (version is None or self.version == version)
                and (pool is None or self.pool == pool))

    def describe(self) -> str:
        if self.status is None:
            return f"no answer ({self.error})"
        text = f"healthz {self.status}, version {self.version}, pool {self.pool}"
        return f"{text} ({self.error})" if self.error else text


@dataclass(frozen=True)
class ProbeSummary:
    requests: int
    failures: int
    longest_outage_s: float

    def to_dict(self) -> dict[str, float | int]:
        return {"requests": self.requests, "failures": self.failures,
                "longest_outage_s": round(self.longest_outage_s, 3)}


@dataclass(frozen=True)
class StatusFields:
    """Where `/status` shows the version and the pool (`[status]`). An app that shows no pool
    (`pool_field = ""`) has its pools told apart by the release each serves at baseline
    (`pool_by_version`, learnt by preflight from the engine) when the two differ; when they do not,
    no answer names a pool (None) and the upstream include is the only witness."""
    version_field: str = "version"
    pool_field: str = "pool"
    pool_by_version: Mapping[str, str] = field(default_factory=dict)

    @property
    def shows_pool(self) -> bool:
        """Can an answer of the front say which pool served it?"""
        return bool(self.pool_field) or bool(self.pool_by_version)

    def expected_pool(self, pool: str) -> str | None:
        """The pool a matching answer must show: `pool`, or None (any) when answers cannot show one."""
        return pool if self.shows_pool else None

    def parse(self, body: bytes | str) -> tuple[str | None, str | None]:
        """(version, pool) from a /status JSON object; None for what is not there."""
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("/status is not a JSON object")
        raw_version = data.get(self.version_field)
        version = None if raw_version is None else str(raw_version)
        if self.pool_field:
            raw_pool = data.get(self.pool_field)
            return version, None if raw_pool is None else str(raw_pool)
        return version, None if version is None else self.pool_by_version.get(version)


DEFAULT_STATUS = StatusFields()


def parse_status(body: bytes | str, fields: StatusFields = DEFAULT_STATUS) -> tuple[str | None, str | None]:
    """(version, pool) from a /status JSON object; (None, None) when they are not there."""
    return fields.parse(body)


def front_status(http: HttpClients, status: StatusFields, base_url: str,
                 timeout_s: float = 3) -> tuple[int | None, str | None, str | None]:
    """(/healthz status, /status version, /status pool) the front serves now, /status read where
    `status` says; all None when it does not answer (or /status is not JSON)."""
    try:
        with http.client(base_url=base_url, timeout=timeout_s) as client:
            health = client.get("/healthz").status_code
            version, pool = status.parse(client.get("/status").content)
            return health, version, pool
    except (httpx.HTTPError, ValueError):
        return None, None, None


def longest_outage(samples: Iterable[Sample]) -> float:
    """Longest span of consecutive unhealthy samples, in seconds.

    An outage runs from its first unhealthy sample to the first healthy one after it; one still
    going at the last sample ends there (the probe saw no further).
    """
    longest, start, last = 0.0, None, None
    for s in samples:
        last = s.t
        if not s.healthy and start is None:
            start = s.t
        elif s.healthy and start is not None:
            longest, start = max(longest, s.t - start), None
    if start is not None and last is not None:
        longest = max(longest, last - start)
    return longest


def summarize(samples: Iterable[Sample]) -> ProbeSummary:
    items = list(samples)
    return ProbeSummary(requests=len(items), failures=sum(1 for s in items if not s.healthy),
                        longest_outage_s=longest_outage(items))


class Probe:
    """Samples `base_url` every `interval_ms` on a daemon thread between start() and stop()."""

    def __init__(self, base_url: str, interval_ms: int, *, http: HttpClients, timeout_s: float | None = None,
                 clock: Clock = REAL, status: StatusFields = DEFAULT_STATUS) -> None:
        if interval_ms <= 0:
            raise ValueError("interval_ms must be > 0")
        self.base_url = base_url.rstrip("/")
        self.interval_s = interval_ms / 1000.0
        self.timeout_s = timeout_s if timeout_s is not None else max(0.5, 5 * self.interval_s)
        self.clock = clock
        self.status = status
        # No keep-alive: a pooled connection stays pinned to an old nginx worker for a moment after
        # a graceful reload, so samples would flap between pools. A probe measures what a new
        # client sees.
        self._client = http.client(timeout=self.timeout_s, follow_redirects=False,
                                   limits=httpx.Limits(max_keepalive_connections=0))
        self._samples: list[Sample] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one sample -------------------------------------------------------------------------
    def sample_once(self) -> Sample:
        sent = self.clock.monotonic()
        try:
            health = self._client.get(self.base_url + "/healthz")
        except Exception as e:  # httpx errors, and anything else: the thread must live on
            now = self.clock.monotonic()
            return Sample(now, None, (now - sent) * 1000, None, None,
                          one_line(f"healthz: {type(e).__name__}: {e}", limit=300), sent)
        latency_ms = (self.clock.monotonic() - sent) * 1000
        version = pool = error = None
        try:
            status = self._client.get(self.base_url + "/status")
            if status.status_code == 200:
                version, pool = self.status.parse(status.content)
            else:
                error = f"status: HTTP {status.status_code}"
        except Exception as e:
            error = one_line(f"status: {type(e).__name__}: {e}", limit=300)
        return Sample(self.clock.monotonic(), health.status_code, latency_ms, version, pool,
                      error, sent)

    # -- the thread -------------------------------------------------------------------------
    def _run(self) -> None:
        due = self.clock.monotonic()
        while not self._stop.is_set():
            sample = self.sample_once()
            with self._cond:
                self._samples.append(sample)
                self._cond.notify_all()
            due += self.interval_s
            now = self.clock.monotonic()
            if due < now:  # fell behind (slow answers): keep the cadence, do not burst
                due = now
            self.clock.wait(self._stop, due - now)

    def start(self) -> Probe:
        if self._thread is not None:
            raise RuntimeError("probe already started")
        self._thread = threading.Thread(target=self._run, name="aura-probe", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> list[Sample]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._client.close()
        return self.samples()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Probe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- reading ----------------------------------------------------------------------------
    def samples(self, since: float | None = None, until: float | None = None) -> list[Sample]:
        """A copy of the samples answered in [since, until] (monotonic; None: open)."""
        with self._cond:
            items = list(self._samples)
        return [s for s in items
                if (since is None or s.t >= since) and (until is None or s.t <= until)]

    def wait_past(self, t: float, timeout_s: float) -> bool:
        """Block until a sample answered at or after `t` exists (False after `timeout_s`)."""
        with self._cond:  # each new sample notifies: the wait ends as soon as one is past `t`
            for _ in Wait(f"a probe answer at or after {t:.3f}", timeout_s, 0.05, self.clock).rounds(
                    sleep=self._cond.wait):
                if self._samples and self._samples[-1].t >= t:
                    return True
                if not self.running:
                    break
            return bool(self._samples and self._samples[-1].t >= t)

    def summary(self, since: float | None = None, until: float | None = None) -> ProbeSummary:
        return summarize(self.samples(since, until))
