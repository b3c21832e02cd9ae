"""Pure parts of the RPO check and the performance smoke, on small real inputs."""
import httpx
import pytest

from helpers.http_clients import HttpClients
from helpers.perf import nearest_rank, perf_smoke
from helpers.rpo import MIN_ACKNOWLEDGED, Ack, compare

pytestmark = pytest.mark.unit


def acks(n: int) -> list[Ack]:
    return [Ack(id=i, item=f"drill-x-{i}", quantity=i, sent=0.0, acked=0.1) for i in range(1, n + 1)]


def rows_for(items: list[Ack]) -> list[dict]:
    return [{"id": a.id, "item": a.item, "quantity": a.quantity} for a in items]


def test_every_acknowledged_write_found_is_ok():
    written = acks(MIN_ACKNOWLEDGED)
    result = compare(written, rows_for(written))
    assert result.ok and result.verified and result.lost == () and result.changed == ()


def test_a_missing_row_is_lost_and_a_different_one_changed():
    written = acks(MIN_ACKNOWLEDGED + 2)
    rows = rows_for(written)
    del rows[0]
    rows[1]["quantity"] = 999
    result = compare(written, rows)
    assert not result.ok
    assert list(result.lost) == [1] and list(result.changed) == [3]
    assert result.verdict().startswith("RPO: 1 of 7 acknowledged writes lost")


def test_too_few_acknowledged_writes_is_unverified_not_ok():
    written = acks(MIN_ACKNOWLEDGED - 1)
    result = compare(written, rows_for(written))
    assert not result.verified and not result.ok
    assert result.verdict().startswith("RPO unverified: only 4 acknowledged writes")


@pytest.mark.parametrize("values, percent, expected", [
    ([5.0], 95, 5.0),
    ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
    ([float(v) for v in range(1, 101)], 95, 95.0),
    ([float(v) for v in range(1, 21)], 95, 19.0),
    ([3.0, 1.0, 2.0], 100, 3.0),
])
def test_nearest_rank(values, percent, expected):
    assert nearest_rank(values, percent) == expected


def test_nearest_rank_of_nothing_is_none_and_percent_is_bounded():
    assert nearest_rank([], 95) is None
    with pytest.raises(ValueError):
        nearest_rank([1.0], 0)


def test_perf_smoke_counts_errors_and_fails_on_them():
    calls = {"n": 0}

    def answer(request):
        calls["n"] += 1
        return httpx.Response(503 if calls["n"] % 10 == 0 else 200, json={"version": "v1", "pool": "api_v1"})

    result = perf_smoke("http://front", 20, 500, http=HttpClients(transport=httpx.MockTransport(answer)))
    assert result.requests == 20 and result.errors == 2
    assert not result.ok and "2" in result.problem
