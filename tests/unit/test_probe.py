import json
import threading
from itertools import pairwise

import httpx
import pytest

from helpers.clock import FakeClock
from helpers.http_clients import HttpClients
from helpers.probe import Probe, longest_outage, parse_status, summarize

from .conftest import sample

pytestmark = pytest.mark.unit


def transport(health=200, status=200, body=None, clock=None, delay=0.0):
    """A MockTransport standing in for the target; `state` can be changed while it serves."""
    state = {"health": health, "status": status,
             "body": body if body is not None else {"version": "v1.0.0", "pool": "api_v1",
                                                    "revision": "0002_customer"}}

    def handler(request: httpx.Request) -> httpx.Response:
        if clock is not None and delay:
            clock.advance(delay)
        if request.url.path == "/healthz":
            if isinstance(state["health"], Exception):
                raise state["health"]
            return httpx.Response(state["health"], text="ok")
        if request.url.path == "/status":
            return httpx.Response(state["status"], content=json.dumps(state["body"]))
        return httpx.Response(404)

    return httpx.MockTransport(handler), state


def test_a_healthy_sample_carries_version_pool_and_latency():
    clock = FakeClock(start=10.0)
    mock, _ = transport(clock=clock, delay=0.004)
    probe = Probe("http://front:8080/", 50, clock=clock, http=HttpClients(transport=mock))
    s = probe.sample_once()
    assert (s.status, s.version, s.pool, s.error) == (200, "v1.0.0", "api_v1", None)
    assert s.latency_ms == pytest.approx(4.0)
    assert s.sent == 10.0 and s.t == pytest.approx(10.008)  # healthz + status
    assert s.healthy and s.matches("v1.0.0", "api_v1") and s.matches(None, None)
    assert not s.matches("v2.0.0", "api_v1") and not s.matches("v1.0.0", "api_v2")


def test_unhealthy_and_broken_status_answers():
    mock, state = transport(health=503, status=500)
    probe = Probe("http://front", 50, clock=FakeClock(), http=HttpClients(transport=mock))
    s = probe.sample_once()
    assert s.status == 503 and not s.healthy and not s.matches()
    assert s.version is None and s.error == "status: HTTP 500"
    state["health"] = httpx.ConnectError("connection refused")
    s = probe.sample_once()
    assert s.status is None and s.error == "healthz: ConnectError: connection refused"
    assert "no answer" in s.describe()


def test_parse_status():
    assert parse_status(b'{"version": "v2.0.0", "pool": "api_v2"}') == ("v2.0.0", "api_v2")
    assert parse_status("{}") == (None, None)
    with pytest.raises(ValueError):
        parse_status("[1, 2]")


def test_longest_outage_spans_from_first_bad_to_next_good():
    samples = [sample(0.0), sample(1.0, 502), sample(1.5, None), sample(2.0),
               sample(3.0, 503), sample(3.2), sample(4.0)]
    assert longest_outage(samples) == pytest.approx(1.0)
    assert longest_outage([*samples, sample(5.0, 503), sample(7.5, 503)]) == pytest.approx(2.5)
    assert longest_outage([sample(0.0), sample(1.0)]) == 0.0
    summary = summarize(samples)
    assert (summary.requests, summary.failures) == (7, 3)
    assert summary.to_dict() == {"requests": 7, "failures": 3, "longest_outage_s": 1.0}


class SteppedClock(FakeClock):
    """A fake clock for a thread that waits on it: each wait (the probe's pause between two
    samples) ends only when the test gives a step, or when the waited-for event is set (stop),
    so the thread takes exactly as many samples as the test says."""

    def __init__(self, start: float) -> None:
        super().__init__(start=start)
        self._steps = threading.Semaphore(0)

    def step(self, n: int) -> None:
        for _ in range(n):
            self._steps.release()

    def wait(self, event: threading.Event, timeout: float) -> bool:
        while not self._steps.acquire(timeout=0.01):
            if event.is_set():
                return True
        return super().wait(event, timeout)


def test_background_sampler_keeps_cadence_and_stops():
    clock = SteppedClock(start=0.0)
    mock, state = transport()
    probe = Probe("http://front", 10, http=HttpClients(transport=mock), clock=clock)
    with probe:
        clock.step(10)  # the first sample at once, then one per 10 ms step: to 0.1 s
        assert probe.wait_past(0.1 - 1e-9, timeout_s=5)
        state["health"] = 503
        clock.step(10)  # 0.1 s more, every answer unhealthy
        assert probe.wait_past(0.2 - 1e-9, timeout_s=5)
    samples = probe.samples()
    count = len(samples)
    assert len(probe.samples()) == count  # stopped: nothing more is recorded
    assert not probe.running
    assert 10 <= count <= 40  # 0.2 s at 10 ms
    assert count == 21 and [round(s.t, 3) for s in samples] == [i / 100 for i in range(21)]
    assert [s.healthy for s in samples] == [True] * 11 + [False] * 10
    assert all(a.t < b.t for a, b in pairwise(samples))
    assert all(s.sent_at <= s.t for s in samples)
    assert samples[0].healthy and not samples[-1].healthy
    assert probe.summary().failures >= 3
    assert probe.samples(since=samples[-1].t) == [samples[-1]]

