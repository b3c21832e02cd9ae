"""The verdict's small checks that judge what was measured and read: each returns its problems."""
import dataclasses
import functools

import pytest

from helpers.commands import CommandResult
from helpers.fingerprint import ContainerState, Fingerprint
from helpers.rto import check_soak, compute_recovery
from helpers.verdict import command_problems, end_state_problems, guarded, recovery_problems

from .conftest import sample

pytestmark = pytest.mark.unit

GOOD = "sha256:" + "a" * 64
SNAP = Fingerprint({"api_v1": ContainerState("aura-api:v1.0.0", GOOD, "running")}, "conf-1", "inc-1", "api_v1",
                   "0002_customer", "sha256:rows", 10)


def result(code=0, timed_out=False, stderr=""):
    return CommandResult(("rollback.sh",), code, "", stderr, 100.0, 101.5, timed_out)


def test_the_command_fails_by_its_exit_or_by_the_budget():
    assert command_problems(result(), 60) == []
    assert command_problems(result(2, stderr="warming\nno such tag\n"), 60) == ["rollback exited 2: no such tag"]
    assert command_problems(result(1), 60) == ["rollback exited 1: (no stderr)"]
    assert command_problems(result(-15, timed_out=True), 60) == [
        "rollback command still running at the 60s budget: killed"]


def test_a_missed_budget_says_why_and_how_late_a_soak_that_failed_says_its_relapse():
    never = compute_recovery([], 100.0, healthy_streak=3, version="v1.0.0", pool="api_v1", budget_s=4)
    assert recovery_problems(never, None, late_rto_s=7.25, budget_s=4, rto_key="image", soak_s=2) == [
        "not recovered within the 4s RTO budget ([rto] image): probe never saw a healthy streak showing "
        "version v1.0.0, pool api_v1; it recovered 7.25s after the rollback started, over budget"]
    samples = [sample(100.0 + 0.1 * i) for i in range(1, 30)]
    samples[20] = sample(102.1, 503, None)
    back = compute_recovery(samples, 100.0, healthy_streak=3, version="v1.0.0", pool="api_v1", budget_s=4)
    assert back.recovered_at is not None
    soak = check_soak(samples, back.recovered_at, 102.8, version="v1.0.0", pool="api_v1")
    (problem,) = recovery_problems(back, soak, late_rto_s=None, budget_s=4, rto_key="image", soak_s=2)
    assert problem.startswith("recovery did not hold until 2s after the rollback was over: relapse 2.000s")
    held = check_soak(samples[:20], back.recovered_at, 101.5, version="v1.0.0", pool="api_v1")
    assert recovery_problems(back, held, late_rto_s=None, budget_s=4, rto_key="image", soak_s=2) == []


def test_the_end_state_is_judged_against_what_the_rollback_must_restore():
    judge = functools.partial(end_state_problems, snapshot=SNAP, rollback_type="full", revision="0002_customer",
                              tag="stable", expected_image_id=GOOD, nginx_test_ok=True)
    assert judge(SNAP) == []
    bad = dataclasses.replace(SNAP, active_pool="api_v2", db_revision="0003_rename_item", nginx_conf_sha256="conf-2",
                              containers={"api_v1": ContainerState("aura-api:v1.2.0-bad", "sha256:" + "b" * 64,
                                                                   "running")})
    assert judge(bad, nginx_test_ok=False) == [
        "end state: traffic on api_v2, not api_v1",
        "end state: database at 0003_rename_item, not 0002_customer",
        "end state: nginx config is not the known-good one",
        "end state: nginx -t fails",
        f"end state: api_v1 runs aura-api:v1.2.0-bad (sha256:bbbbbbbbbbbb), not the image of stable ({GOOD[:19]})"]
    # an upstream rollback does not answer for the nginx config's digest
    assert judge(dataclasses.replace(SNAP, nginx_conf_sha256="conf-2"), rollback_type="upstream") == []


def test_a_check_that_raises_is_one_problem_naming_it():
    def host_problems():
        raise ConnectionError("engine gone")

    assert guarded(host_problems) == ["host check could not run: ConnectionError: engine gone"]
    assert guarded(lambda: ["x"]) == ["x"]
