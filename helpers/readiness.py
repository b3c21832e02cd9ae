"""Wait, within a bound, until a restored target serves again, and say what was not ready.

A restore puts files and containers back in milliseconds, but a recreated container still has to
boot and nginx's new workers to take over: a verify run at that moment fails against a target that
is fine a moment later. Ready means: the front shows the expected version and pool on
`healthy_streak` consecutive fresh answers, and each recreated container answers its own
`/healthz` (at its `[upstreams]` address) with 200.
"""
from __future__ import annotations

from collections.abc import Iterable

import httpx

from helpers.clock import REAL, Clock
from helpers.http_clients import HttpClients
from helpers.probe import DEFAULT_STATUS, Probe, Sample, StatusFields
from helpers.wait import Wait

READY_TIMEOUT_S = 60.0
# After `nginx -s reload` the old workers keep accepting connections for about 100 ms (measured on
# the sandbox: answers alternated between pools for ~60 ms after a restore's reload, and a verify
# run inside that window failed 13 times in 25): the matching streak must also span this long.
STEADY_S = 0.3


def _container_healthy(http: HttpClients, address: str, timeout_s: float) -> bool:
    try:
        return http.get(f"http://{address}/healthz", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def wait_ready(base_url: str, *, http: HttpClients, version: str | None, pool: str | None, streak: int,
               interval_s: float, containers: Iterable[tuple[str, str]] = (), timeout_s: float = READY_TIMEOUT_S,
               steady_s: float = STEADY_S, clock: Clock = REAL, status: StatusFields = DEFAULT_STATUS) -> str | None:
    """None once ready; otherwise one line naming what was still not ready at the deadline.
    `containers` are (name, host:port) of the containers that were recreated."""
    pending = dict(containers)
    run: list[Sample] = []
    last: list[Sample] = []
    probe = Probe(base_url, max(1, int(interval_s * 1000)), http=http, clock=clock, status=status)

    def ready() -> bool:
        for name, address in list(pending.items()):
            if _container_healthy(http, address, probe.timeout_s):
                del pending[name]
        if pending:
            return False
        s = probe.sample_once()
        last[:] = [s]
        if s.matches(version, pool):
            run.append(s)
        else:
            run.clear()
        return len(run) >= streak and run[-1].t - run[0].t >= steady_s

    try:
        if Wait("the restored target to serve", timeout_s, interval_s, clock).poll(ready):
            return None
    finally:
        probe.stop()
    if pending:
        return (f"not ready after {timeout_s:g}s: " + ", ".join(f"{n} ({a}/healthz)" for n, a in pending.items())
                + " never answered 200")
    return (f"not ready after {timeout_s:g}s: the front never showed version {version}, pool {pool} on "
            f"{streak} consecutive answers over {steady_s:g}s (last: {last[0].describe() if last else 'nothing'})")
