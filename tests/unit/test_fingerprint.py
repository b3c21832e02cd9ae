import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from helpers.fingerprint import ContainerState, Fingerprint, active_pool, canonical_row, diff, rows_digest, sha256_file

pytestmark = pytest.mark.unit

UPSTREAMS = [("api_v1", "127.0.0.1:18081"), ("api_v2", "127.0.0.1:18082")]
ROWS = [{"id": 1, "item": "tea", "quantity": 2,
         "created_at": datetime(2025, 1, 6, 12, 0, tzinfo=UTC), "customer": None},
        {"id": 2, "item": "milk", "quantity": 1,
         "created_at": datetime(2025, 1, 6, 12, 5, tzinfo=UTC), "customer": "ana"}]


def fingerprint(**changes) -> Fingerprint:
    base = Fingerprint(
        containers={"api_v1": ContainerState("localhost/aura-api:stable", "sha256:aaa", "running"),
                    "api_v2": ContainerState("localhost/aura-api:v2.0.0", "sha256:bbb", "running")},
        nginx_conf_sha256="sha256:c1", upstream_include_sha256="sha256:u1", active_pool="api_v1",
        db_revision="0002_customer", rows_digest=rows_digest(ROWS), row_count=2)
    return replace(base, **changes)


def test_equal_fingerprints_have_no_diff():
    assert diff(fingerprint(), fingerprint()) == []


def test_diff_names_each_differing_field():
    now = fingerprint(
        containers={"api_v1": ContainerState("localhost/aura-api:v1.2.0-bad", "sha256:ddd",
                                             "running")},
        active_pool="api_v2", db_revision="0003_rename_item")
    assert diff(fingerprint(), now) == [
        "containers.api_v1.ref: localhost/aura-api:stable -> localhost/aura-api:v1.2.0-bad",
        "containers.api_v1.image_id: sha256:aaa -> sha256:ddd",
        "containers.api_v2.ref: localhost/aura-api:v2.0.0 -> (absent)",
        "containers.api_v2.image_id: sha256:bbb -> (absent)",
        "containers.api_v2.status: running -> (absent)",
        "containers.api_v2.definition:  -> (absent)",
        "active_pool: api_v1 -> api_v2",
        "db_revision: 0002_customer -> 0003_rename_item",
    ]


def test_a_definition_that_differs_is_named_setting_by_setting():
    before = {"Config": {"Env": ["A=1"], "Labels": {"team": "pay"}}, "HostConfig": {"PidsLimit": 128}, "Networks": {}}
    after = {"Config": {"Env": ["A=1"], "Labels": {}}, "HostConfig": {"PidsLimit": None}, "Networks": {}}
    snap = fingerprint(containers={"api_v1": ContainerState("r", "sha256:aaa", "running", "sha256:d1", before)})
    now = fingerprint(containers={"api_v1": ContainerState("r", "sha256:aaa", "running", "sha256:d2", after)})
    assert diff(snap, now) == ["containers.api_v1.definition: sha256:d1 -> sha256:d2 "
                               "(Config.Labels.team: pay -> None; HostConfig.PidsLimit: 128 -> None)"]
    # the definition itself is not compared, its digest is
    assert ContainerState("r", "i", "running", "sha256:d1", before) == ContainerState("r", "i", "running", "sha256:d1")


def test_fingerprint_survives_a_json_round_trip():
    fp = fingerprint()
    assert Fingerprint.from_dict(json.loads(json.dumps(fp.to_dict()))) == fp


def test_rows_digest_ignores_row_and_key_order_but_not_content():
    digest = rows_digest(ROWS)
    assert digest.startswith("sha256:") and len(digest) == 7 + 64
    assert rows_digest(list(reversed(ROWS))) == digest
    assert rows_digest([dict(reversed(list(r.items()))) for r in ROWS]) == digest
    assert rows_digest([ROWS[0], {**ROWS[1], "quantity": 2}]) != digest
    assert rows_digest(ROWS[:1]) != digest
    assert rows_digest([*ROWS, {"id": 3, "item": "new"}]) != digest
    assert rows_digest([]) != digest


def test_rows_digest_of_the_json_backup_equals_the_digest_of_the_rows():
    stored = json.loads(json.dumps([canonical_row(r) for r in ROWS]))
    assert stored[0]["created_at"] == "2025-01-06T12:00:00+00:00"
    assert rows_digest(stored) == rows_digest(ROWS)
    assert canonical_row({"amount": Decimal("1.50"), "raw": b"\x01\x02"}) == {
        "amount": "1.50", "raw": "\\x0102"}


def test_rows_are_ordered_by_the_primary_key_given():
    rows = [{"code": "b", "n": 1}, {"code": "a", "n": 2}]
    assert rows_digest(rows, pk="code") == rows_digest(list(reversed(rows)), pk="code")


def test_active_pool_from_the_upstream_include():
    assert active_pool("server 127.0.0.1:18081;\n", UPSTREAMS) == "api_v1"
    assert active_pool("  server 127.0.0.1:18082 max_fails=0;  # api_v2\n", UPSTREAMS) == "api_v2"
    assert active_pool("# server 127.0.0.1:18081;\nserver 127.0.0.1:18082;", UPSTREAMS) == "api_v2"
    assert active_pool("server 127.0.0.1:18081;\nserver 127.0.0.1:18082;",
                       UPSTREAMS) == "api_v1+api_v2"
    assert active_pool("server 10.0.0.9:80;", UPSTREAMS) == "unknown(10.0.0.9:80)"
    assert active_pool("", UPSTREAMS) is None


def test_sha256_file(tmp_path):
    path = tmp_path / "upstream.conf"
    path.write_bytes(b"abc")
    assert sha256_file(path) == (
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert sha256_file(tmp_path / "absent") is None
