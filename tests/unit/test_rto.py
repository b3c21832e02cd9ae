import pytest

from helpers.rto import check_soak, compute_recovery, first_streak_at

from .conftest import sample

pytestmark = pytest.mark.unit

T0 = 100.0
V1, P1 = "v1.0.0", "api_v1"


def timeline(*points):
    """(offset from T0, kind) -> samples; kind: ok | down | v2 (healthy, wrong version/pool)."""
    kinds = {"ok": {}, "down": {"status": 503}, "v2": {"version": "v2.0.0", "pool": "api_v2"}}
    return [sample(T0 + dt, **kinds[kind]) for dt, kind in points]


def test_rto_is_the_first_sample_of_the_first_full_streak():
    samples = timeline((-0.5, "ok"), (0.05, "v2"), (0.10, "ok"), (0.15, "ok"), (0.20, "down"),
                       (0.25, "ok"), (0.30, "ok"), (0.35, "ok"), (0.40, "ok"))
    r = compute_recovery(samples, T0, healthy_streak=3, version=V1, pool=P1)
    assert r.streak_at == pytest.approx(T0 + 0.25)
    assert r.rto_s == pytest.approx(0.25)
    assert r.recovered and r.explain() == "recovered after 0.250s (last to recover: probe)"


def test_samples_sent_before_t0_do_not_count():
    samples = [sample(T0 + 0.01, sent=T0 - 0.01), *timeline((0.05, "ok"), (0.1, "ok"))]
    assert first_streak_at(samples, T0, 2, version=V1, pool=P1) == pytest.approx(T0 + 0.05)
    assert first_streak_at(samples, T0, 3, version=V1, pool=P1) is None


def test_a_state_check_restored_after_the_streak_sets_the_recovery():
    samples = timeline((0.1, "ok"), (0.2, "ok"), (0.3, "ok"))
    r = compute_recovery(samples, T0, healthy_streak=3, version=V1, pool=P1,
                         state_checks={"nginx -t": T0 + 1.7, "db revision": T0 + 0.05})
    assert r.recovered_at == pytest.approx(T0 + 1.7)
    assert r.rto_s == pytest.approx(1.7)
    assert "last to recover: nginx -t" in r.explain()


def test_a_state_check_never_restored_means_never_recovered():
    samples = timeline((0.1, "ok"), (0.2, "ok"), (0.3, "ok"))
    r = compute_recovery(samples, T0, healthy_streak=3, version=V1, pool=P1,
                         state_checks={"nginx -t": None}, budget_s=60)
    assert r.recovered_at is None and r.rto_s is None
    assert r.waiting_for() == ["nginx -t"]
    assert r.explain() == "never recovered within 60s: nginx -t never restored"


def test_wrong_version_is_never_recovered():
    samples = timeline(*[(0.05 * i, "v2") for i in range(1, 20)])
    r = compute_recovery(samples, T0, healthy_streak=3, version=V1, pool=P1)
    assert r.rto_s is None and r.waiting_for() == ["probe"]
    assert "version v1.0.0, pool api_v1" in r.explain()


def test_recovery_after_the_budget_counts_as_never():
    samples = timeline((70.0, "ok"), (70.05, "ok"), (70.1, "ok"))
    assert compute_recovery(samples, T0, healthy_streak=3, version=V1, pool=P1,
                            budget_s=60).rto_s is None
    assert compute_recovery(samples, T0, healthy_streak=3, version=V1, pool=P1,
                            budget_s=80).rto_s == pytest.approx(70.0)


def test_soak_passes_when_every_sample_in_the_window_matches():
    samples = timeline(*[(1.0 + 0.1 * i, "ok") for i in range(25)])
    soak = check_soak(samples, T0 + 1.0, T0 + 3.0, version=V1, pool=P1)
    assert soak.ok and soak.problem() is None and soak.checked == 21


def test_flapping_fails_with_the_time_of_the_first_bad_sample():
    points = [(1.0 + 0.1 * i, "ok") for i in range(25)]
    points[12] = (2.2, "down")
    points[15] = (2.5, "v2")
    soak = check_soak(timeline(*points), T0 + 1.0, T0 + 3.0, version=V1, pool=P1)
    assert not soak.ok
    assert soak.first_bad_at == pytest.approx(T0 + 2.2)
    assert soak.problem().startswith("relapse 1.200s after recovery: the front answered healthz 503")


def test_a_soak_the_probe_did_not_watch_to_the_end_is_unverified():
    samples = timeline((1.0, "ok"), (1.5, "ok"))
    soak = check_soak(samples, T0 + 1.0, T0 + 3.0, version=V1, pool=P1)
    assert not soak.ok and soak.incomplete
    assert soak.problem() == "soak unverified: probe samples cover 0.500s of 2.000s after recovery"


def test_a_relapse_after_the_first_soak_seconds_but_before_the_soak_end_fails():
    # Recovered at +1.0; the command exited at +4.0, so the soak runs to +6.0: a relapse at +3.5
    # (past a soak that would have started at the recovery) is inside the window and fails.
    points = [(1.0 + 0.1 * i, "ok") for i in range(55)]
    points[25] = (3.5, "v2")
    soak = check_soak(timeline(*points), T0 + 1.0, T0 + 6.0, version=V1, pool=P1)
    assert not soak.ok
    assert soak.problem().startswith("relapse 2.500s after recovery: the front answered healthz 200, "
                                     "version v2.0.0, pool api_v2")


def test_a_state_check_that_lapsed_after_recovery_fails_the_soak_by_name():
    import dataclasses

    samples = timeline(*[(1.0 + 0.1 * i, "ok") for i in range(25)])
    soak = dataclasses.replace(check_soak(samples, T0 + 1.0, T0 + 3.0, version=V1, pool=P1),
                               lapsed_checks=("database at 0002_customer",))
    assert not soak.ok
    assert soak.problem() == "relapse after recovery: database at 0002_customer no longer holds"
