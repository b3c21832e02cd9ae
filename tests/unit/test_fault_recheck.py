"""The fault re-check at t0 judges several fresh answers, never one: after an nginx reload old
and new workers answer side by side for ~100 ms."""
import pytest

from helpers.clock import FakeClock
from helpers.faults import healed_steadily

from .conftest import sample

pytestmark = pytest.mark.unit


class Answers:
    """A probe stand-in: each sleep lets the next scripted answer arrive."""
    interval_s = 0.05

    def __init__(self, clock: FakeClock, script):
        self.clock, self.script, self.seen = clock, list(script), []

    def samples(self, since=None):
        return [s for s in self.seen if since is None or s.t >= since]

    def tick(self):
        if self.script:
            kind = self.script.pop(0)
            now = self.clock.monotonic()
            self.seen.append(sample(now + 0.01, **({} if kind == "ok" else {"status": 503, "version": None})))


def scripted(script) -> tuple[FakeClock, Answers]:
    """A fake clock at t=100 whose every sleep lets the next scripted answer arrive."""
    clock = FakeClock(start=100.0)
    probe = Answers(clock, script)
    original_sleep = clock.sleep

    def sleep(seconds):
        original_sleep(seconds)
        probe.tick()
    clock.sleep = sleep
    return clock, probe


def run(script, streak=3):
    clock, probe = scripted(script)
    return healed_steadily(probe, lambda s: s.healthy, streak, clock, timeout_s=1.0)


def test_healed_only_when_every_one_of_the_first_answers_is_healed():
    assert run(["ok", "ok", "ok"]) is not None


def test_one_answer_from_a_worker_still_faulty_means_the_fault_holds():
    assert run(["ok", "bad", "ok", "ok", "ok"]) is None


def test_too_few_answers_never_count_as_healed():
    assert run(["ok"]) is None


# -- the nginx invalid_config fault: visible, or green long enough to call it latent --------------

def watch(script, streak=3, steady_s=0.3):
    from helpers.faults import first_failure_unless_steady

    clock, probe = scripted(script)
    return first_failure_unless_steady(probe, 100.0, streak, steady_s, 1.0, clock), clock.monotonic() - 100.0


def test_a_failure_after_the_reload_is_seen():
    failing, _ = watch(["ok", "ok", "bad", "ok"])
    assert failing is not None and failing.status == 503


def test_green_is_called_only_after_the_streak_spans_the_steady_time():
    failing, waited = watch(["ok"] * 30)
    # answers every 0.05 s: three answers span 0.1 s, not enough; seven span 0.3 s
    assert failing is None and 0.3 <= waited < 0.5


def test_a_failure_inside_the_steady_span_is_still_seen():
    failing, _ = watch(["ok"] * 5 + ["bad"] + ["ok"] * 20)
    assert failing is not None
