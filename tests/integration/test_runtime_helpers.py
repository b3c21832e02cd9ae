"""The drill suite's runtime helpers against a real, private sandbox instance (no mocks).

The instance is started the way the suite starts any sandbox target — `python -m sandbox up` as a
command, the config path read from its last stdout line — with its own state folder, ports and
container names, so it never touches the main sandbox. Nothing here imports `sandbox`: like the
suite, these tests know the target only through its config.

The instance is left as it was found: stopped and purged if this module started it, running and
at its baseline if it was already up.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from helpers.commands import run as run_command
from helpers.config import TargetConfig, load_config
from helpers.container_swap import recreate_with_image, restore_container
from helpers.engine_api import ContainerDefinition, DockerRuntimeError, Engine
from helpers.fingerprint import read_db_revision
from helpers.front import LocalFront
from helpers.host_checks import failed, host_checks, nginx_processes
from helpers.http_clients import HttpClients
from helpers.metrics import build_info_version, total_requests
from helpers.perf import perf_smoke
from helpers.rpo import MIN_ACKNOWLEDGED, OrderWriter
from helpers.wait import Wait
from tests.sandbox_ids import extra

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PROJECT = Path(__file__).resolve().parents[2]
PYTHON = str(PROJECT / ".venv/bin/python") if (PROJECT / ".venv/bin/python").exists() \
    else sys.executable
IDENTITY = extra("runtime")  # tests/sandbox_ids.py: derived from the run's AURA_SANDBOX_*
STATE = IDENTITY.state
INSTANCE_ENV = IDENTITY.env()


def sandbox(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "sandbox", *args], cwd=PROJECT,
                          env={**os.environ, **INSTANCE_ENV}, capture_output=True, text=True,
                          timeout=timeout)


def sandbox_up() -> str:
    r = sandbox("up")
    assert r.returncode == 0, f"sandbox up failed: {r.stderr[-3000:]}"
    return r.stdout.strip().splitlines()[-1]


@pytest.fixture
def engine(cfg: TargetConfig):
    with Engine.from_config(cfg) as adapter:
        yield adapter


@pytest.fixture(scope="module")
def cfg() -> TargetConfig:
    was_up = Path(STATE, "sandbox.toml").exists()
    config = load_config(sandbox_up())
    HTTP[:] = [HttpClients.from_config(config)]  # its CA and token, for every request to the front
    yield config
    if was_up:
        sandbox_up()  # back to its baseline, still running
    else:
        r = sandbox("down", "--purge")
        assert r.returncode == 0, r.stderr[-2000:]


def wait_for(what: str, predicate, timeout_s: float = 20.0, every_s: float = 0.1):
    __tracebackhide__ = True
    return Wait(what, timeout_s, every_s).until(predicate, ignore=(httpx.HTTPError, OSError))


HTTP: list[HttpClients] = []  # the module's HTTP to the target (set by the cfg fixture)


def healthz(url: str) -> httpx.Response:
    return HTTP[0].get(url.rstrip("/") + "/healthz", timeout=2)


def pool_url(cfg: TargetConfig, pool: str) -> str:
    return "http://" + dict(cfg.upstreams.items())[pool]


# -- docker runtime ------------------------------------------------------------------------------

def test_bad_image_then_restore_exact_image_by_id(cfg: TargetConfig, engine: Engine):
    name = cfg.services.api_v1
    bad_ref = f"{cfg.docker.image}:{cfg.docker.bad_tag}"
    before = engine.container_info(name)
    saved = engine.container_definition(name)
    assert before is not None and before.running and saved is not None
    bad_id = engine.image_id_of(bad_ref)
    assert bad_id and bad_id != before.image_id
    assert engine.image_env(bad_ref)["AURA_VERSION"] == cfg.docker.bad_tag
    v1 = pool_url(cfg, "api_v1")

    result = recreate_with_image(engine, name, bad_ref, stop_timeout=3)
    try:
        assert (result.old_image_id, result.old_ref) == (before.image_id, before.ref)
        assert result.new_image_id == bad_id
        # what the container set itself was carried over; nothing the engine or image adds. Which
        # keys a service sets is the target's business (the raw sandbox passes the database URL,
        # the compose one a file naming it): "its own" is what its old image did not set.
        # (AURA_* only: an engine adds keys of its own, HOSTNAME or podman's `container`, that a
        # clone rightly leaves to the engine.)
        own = {k for k in before.env if k.startswith("AURA_")} - set(engine.image_env(before.ref))
        assert {"AURA_POOL", "AURA_PORT"} <= own and own & {"AURA_DATABASE_URL", "AURA_DATABASE_URL_FILE"}
        env_keys = {e.split("=", 1)[0] for e in result.cloned.definition["Config"]["Env"]}
        assert own <= env_keys and "AURA_VERSION" not in env_keys
        assert result.cloned.definition["HostConfig"]["NetworkMode"] == "host"
        bad = wait_for("bad image answering 503", lambda: healthz(v1).status_code == 503 and
                       healthz(v1))
        assert bad.json()["version"] == cfg.docker.bad_tag
        now = engine.container_info(name)
        assert now.running and now.image_id == bad_id and now.ref == bad_ref
        for key in own:
            assert now.env[key] == before.env[key]
        assert now.env["AURA_VERSION"] == cfg.docker.bad_tag  # the new image's, not the old one's
        assert now.labels["aura.pool"] == before.labels["aura.pool"] == "api_v1"
        assert "aura-api" in engine.logs_tail(name, lines=20)
    finally:
        # what a journal keeps: enough to restore from a fresh process
        restored = restore_container(engine, name, ContainerDefinition.from_dict(saved.to_dict()))
    assert restored.changed and restored.new_image_id == before.image_id
    wait_for("v1 healthy again", lambda: healthz(v1).status_code == 200)
    assert healthz(v1).json()["version"] == before.env["AURA_VERSION"] == "v1.0.0"
    after = engine.container_info(name)
    assert (after.ref, after.image_id, after.running) == (before.ref, before.image_id, True)
    assert after.env == before.env and after.labels == before.labels
    assert engine.container_definition(name).digest == saved.digest
    # restoring what is already there is a no-op
    assert restore_container(engine, name, saved).changed is False


def test_runtime_errors_are_one_line_and_touch_nothing(cfg: TargetConfig, engine: Engine):
    name = cfg.services.api_v1
    before = engine.container_info(name)
    with pytest.raises(DockerRuntimeError, match=rf"^container {name}: .*no such image"):
        recreate_with_image(engine, name, f"{cfg.docker.image}:no-such-tag")
    with pytest.raises(DockerRuntimeError, match=r"^container aura-rt-nope: .*no such container"):
        recreate_with_image(engine, "aura-rt-nope", f"{cfg.docker.image}:{cfg.docker.bad_tag}")
    with Engine(f"unix://{STATE}/no.sock") as nowhere, \
            pytest.raises(DockerRuntimeError, match=r"^container x: inspect: engine "):
        nowhere.container_info("x")
    assert engine.container_info("aura-rt-nope") is None
    assert engine.image_id_of(f"{cfg.docker.image}:no-such-tag") is None
    assert engine.container_info(name) == before


# -- RPO writer ------------------------------------------------------------------------------

def test_writer_acknowledged_writes_are_all_read_back_and_a_deleted_one_is_lost(cfg):
    run_id = "rt" + uuid.uuid4().hex[:6]
    writer = OrderWriter(cfg.target.api_url, run_id=run_id, interval_ms=20, max_writes=40, http=HTTP[0],
                         max_seconds=15)
    try:
        with writer:
            assert writer.wait_for_acks(2 * MIN_ACKNOWLEDGED, timeout_s=15), writer.errors
        acks = writer.acknowledged
        assert len(acks) >= 2 * MIN_ACKNOWLEDGED and writer.failures == 0, writer.errors
        assert acks[0].item == f"drill-{run_id}-1" and acks[0].quantity == 1

        result = writer.verify(cfg.database.url, cfg.database.table)
        assert result.ok, result.verdict()
        assert result.verdict() == f"RPO ok: all {len(acks)} acknowledged writes present"

        with psycopg.connect(cfg.database.url) as conn:
            conn.execute("DELETE FROM orders WHERE id = %s", (acks[2].id,))
            conn.execute("UPDATE orders SET quantity = quantity + 100 WHERE id = %s", (acks[3].id,))
        result = writer.verify(cfg.database.url, cfg.database.table)
        assert not result.ok
        assert result.lost == (acks[2].id,) and result.changed == (acks[3].id,)
        assert result.verdict().startswith(f"RPO: 1 of {len(acks)} acknowledged writes lost")
    finally:
        with psycopg.connect(cfg.database.url) as conn:  # leave the table as it was found
            conn.execute("DELETE FROM orders WHERE item LIKE %s", (f"drill-{run_id}-%",))


def test_verify_across_the_bad_migration_and_back(cfg):
    """While the bad revision has `item` renamed, the read-back says it cannot compare (not
    "lost"); after migrating back the same acknowledged writes verify."""
    run_id = "rt" + uuid.uuid4().hex[:6]
    writer = OrderWriter(cfg.target.api_url, run_id=run_id, interval_ms=20, http=HTTP[0],
                         max_writes=MIN_ACKNOWLEDGED, max_seconds=10)
    good = read_db_revision(cfg.database.url)
    try:
        with writer:
            assert writer.wait_for_acks(MIN_ACKNOWLEDGED, timeout_s=10), writer.errors
        try:
            moved = run_command(cfg.commands.migrate, [cfg.database.bad_revision], timeout=60)
            assert moved.ok, moved.stderr
            assert read_db_revision(cfg.database.url) == cfg.database.bad_revision
            during = writer.verify(cfg.database.url, cfg.database.table)
            assert not during.verified and not during.lost and not during.changed
            assert during.verdict().startswith("RPO unverified: column item not in the table")
        finally:
            back = run_command(cfg.commands.migrate, [good], timeout=60)
            assert back.ok, back.stderr
        assert read_db_revision(cfg.database.url) == good
        after = writer.verify(cfg.database.url, cfg.database.table)
        assert after.ok, after.verdict()
    finally:
        with psycopg.connect(cfg.database.url) as conn:
            conn.execute("DELETE FROM orders WHERE item LIKE %s", (f"drill-{run_id}-%",))


def test_rows_put_back_never_leave_the_key_sequence_behind(cfg, tmp_path):
    """A rollback that reloaded the table may reset its id sequence; the restore puts the lost
    rows back with their own keys and moves the sequence past them, so the next order inserts."""
    import psycopg

    from helpers.fingerprint import backup_rows, restore_rows

    url, table = cfg.database.url, cfg.database.table
    with psycopg.connect(url, autocommit=True) as conn:
        newest = conn.execute(f"INSERT INTO {table} (item, quantity) VALUES ('seq-test', 1) RETURNING id").fetchone()[0]
    backup = backup_rows(url, table, tmp_path / "rows.json")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DELETE FROM {table} WHERE id = %s", (newest,))
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s, false)", (newest,))  # next: newest
    report = restore_rows(url, table, backup)
    assert report.inserted == (newest,)
    with psycopg.connect(url, autocommit=True) as conn:  # would be a UniqueViolation without the fix
        after = conn.execute(f"INSERT INTO {table} (item, quantity) VALUES ('seq-test', 2) RETURNING id").fetchone()[0]
    assert after > newest


def test_writer_with_too_few_acknowledged_writes_is_unverified(cfg):
    writer = OrderWriter("http://127.0.0.1:9", interval_ms=10, max_writes=3, max_seconds=5, http=HTTP[0],
                         timeout_s=0.5)
    writer.start()
    wait_for("writer to stop by itself", lambda: not writer.running, timeout_s=10)
    writer.stop()
    result = writer.verify(cfg.database.url, cfg.database.table)
    assert (result.acknowledged, result.attempts, result.failures) == (0, 3, 3)
    assert not result.ok and result.verdict().startswith("RPO unverified: only 0 acknowledged")
    assert writer.errors and "ConnectError" in writer.errors[0]


# -- perf and metrics ------------------------------------------------------------------------

def test_perf_smoke_through_the_front(cfg):
    r = perf_smoke(cfg.target.base_url, cfg.perf.requests, cfg.perf.p95_ms, http=HTTP[0])
    assert r.ok, r.problem
    assert (r.requests, r.errors, r.problem) == (cfg.perf.requests, 0, None)
    assert 0 < r.p50_ms <= r.p95_ms <= r.max_ms < 2000

    dead = perf_smoke("http://127.0.0.1:9", 4, 500, timeout_s=0.5, http=HTTP[0])
    assert not dead.ok and dead.errors == 4 and "4 of 4 requests failed" in dead.problem

    strict = perf_smoke(cfg.target.base_url, 10, 0.0001, http=HTTP[0])
    assert not strict.ok and "p95" in strict.problem


def test_metrics_show_the_version_and_a_rising_counter(cfg):
    def scrape() -> str:
        r = HTTP[0].get(cfg.target.base_url + "/metrics", timeout=2)
        r.raise_for_status()
        return r.text

    first = scrape()
    with Engine.from_config(cfg) as engine:
        stable = engine.image_env(f"{cfg.docker.image}:{cfg.docker.stable_tag}")
    assert build_info_version(first) == stable["AURA_VERSION"] == "v1.0.0"
    for _ in range(5):
        healthz(cfg.target.base_url)
    assert total_requests(scrape()) >= total_requests(first) + 5


# -- host checks -------------------------------------------------------------------------------

def test_host_checks_pass_and_fail_when_nginx_is_stopped(cfg, engine):
    local = LocalFront()
    host = local.testinfra_host()
    checks = host_checks(local, cfg, engine=engine)
    assert not failed(checks), failed(checks)
    names = [c.name for c in checks]
    assert "nginx workers running" in names and "nginx config equals backup" in names
    assert sum(1 for n in names if n.endswith("listening")) == 3

    master = next(c for c in checks if c.name == "nginx master running")
    pid = int(master.detail.split()[1])
    try:
        os.kill(pid, signal.SIGTERM)  # this module's own instance (never the main sandbox)
        wait_for("nginx to stop", lambda: not Path(f"/proc/{pid}").exists(), timeout_s=10)
        down = {c.name: c for c in host_checks(local, cfg)}
        assert not down["nginx master running"].ok
        front = next(c for n, c in down.items() if n.startswith("front port"))
        assert not front.ok and "nothing listens" in front.detail
        assert down[f"api_v1 port 127.0.0.1:{IDENTITY.port_base + 1} listening"].ok  # the pools are still up
    finally:
        sandbox_up()  # brings nginx back
    wait_for("nginx back", lambda: all(c.ok for c in nginx_processes(host, cfg.nginx.conf)))
    assert not failed(host_checks(local, cfg, engine=engine))


def test_instance_is_back_at_its_baseline(cfg):
    r = sandbox("status")
    assert r.returncode == 0, r.stdout + r.stderr
