"""The sandbox's engine, images and API containers against the real engine (no mocks).

Runs beside a live main sandbox without touching it: its own state folder, ports, container
prefix, PostgreSQL (port base+104: 18184 by default) and Podman service: the "images" sandbox of
tests/sandbox_ids.py, derived from the run's AURA_SANDBOX_*, so two checkouts run it side by side.
The Podman image store is shared by every Podman service on the machine, so images are reused and
never removed here; the cold-build test's scratch repository is the run's repository + "-coldtest".
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import docker
import httpx
import psycopg
import pytest

try:  # the project root is not on sys.path without a root conftest or `pythonpath` ini option
    import sandbox  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import contextlib

from helpers.wait import Wait
from sandbox import containers, engine, images
from sandbox.errors import SandboxError
from sandbox.layout import BAD_TAG, Layout
from tests.sandbox_ids import extra

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(300)]

IDENTITY = extra("images")
STATE = IDENTITY.state
PREFIX = IDENTITY.prefix
COLD_REPOSITORY = f"{IDENTITY.image_repository}-coldtest"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _env():
    return IDENTITY.env()


@pytest.fixture(scope="module")
def layout():
    with pytest.MonkeyPatch.context() as mp:
        for k, v in _env().items():
            mp.setenv(k, v)
        lay = Layout.from_env()
        lay.state.mkdir(parents=True, exist_ok=True)
        os.chmod(lay.state, 0o755)  # postgres must be able to enter it
        yield lay
    shutil.rmtree(lay.state, ignore_errors=True)  # torn down last: after engine and postgres


@pytest.fixture(scope="module")
def messages():
    return []


@pytest.fixture(scope="module")
def engine_url(layout, messages):
    url = engine.ensure_engine(layout, messages.append)
    yield url
    engine.stop_engine(layout, messages.append)  # only our pid file's service, if we started one


@pytest.fixture(scope="module")
def client(engine_url):
    c = docker.DockerClient(base_url=engine_url, timeout=120)
    yield c
    c.close()


def _pg(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True,
                          capture_output=True, text=True, timeout=60, **kw)


@pytest.fixture(scope="module")
def database_url(layout):
    """A throwaway PostgreSQL with password auth, the orders table at revision 0002_customer."""
    pgdir = layout.state / "pg"
    port = layout.ports.postgres
    if pgdir.exists():  # left by a killed run
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D",
                        str(pgdir / "data"), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(pgdir)
    pgdir.mkdir()
    shutil.chown(pgdir, "postgres")
    password = secrets.token_hex(12)
    _pg(str(PG_BIN / "initdb"), "-D", str(pgdir / "data"), "-U", "aura",
        "--auth-local=trust", "--auth-host=scram-sha-256")
    _pg(str(PG_BIN / "pg_ctl"), "-D", str(pgdir / "data"), "-l", str(pgdir / "log"), "-w", "-o",
        f"-p {port} -k {pgdir} -c listen_addresses=127.0.0.1", "start")
    try:
        with psycopg.connect(host=str(pgdir), port=port, user="aura", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f"ALTER USER aura PASSWORD '{password}'")
            conn.execute("CREATE DATABASE aura")
        with psycopg.connect(host=str(pgdir), port=port, user="aura", dbname="aura",
                             autocommit=True) as conn:
            conn.execute("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, "
                         "quantity integer NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), "
                         "customer text NULL)")
            conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
            conn.execute("INSERT INTO alembic_version VALUES ('0002_customer')")
        yield f"postgresql://aura:{password}@127.0.0.1:{port}/aura"
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D",
                        str(pgdir / "data"), "-m", "fast", "-w", "stop"], capture_output=True,
                       timeout=60)
        shutil.rmtree(pgdir, ignore_errors=True)


@pytest.fixture(scope="module")
def built(client, layout):
    """ensure_images once for the module; records how long it took and what it logged."""
    log: list[str] = []
    t0 = time.monotonic()
    ids = images.ensure_images(client, layout, log.append)
    return {"ids": ids, "seconds": time.monotonic() - t0, "log": log}


@pytest.fixture(scope="module")
def repository(client, built):
    return images.image_repository(client)


@pytest.fixture(scope="module")
def _containers_teardown(client, layout):
    yield
    containers.remove_api_containers(client, layout, lambda _m: None)


@pytest.fixture
def baseline(client, layout, repository, database_url, _containers_teardown):
    """The two API containers, healthy (cheap when they already run)."""
    return containers.ensure_api_containers(client, layout, repository, database_url, print, api_token=TOKEN)


TOKEN = "api-test-token-0123456789"  # the bearer token of these tests' containers
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def url(layout, pool, path):
    return f"http://127.0.0.1:{layout.pool_port(pool)}{path}"


# -- images -------------------------------------------------------------------------------------
def test_images_exist_with_versions_and_stable_is_v1(client, built, repository):
    ids = built["ids"]
    assert set(ids) == {"v1.0.0", "v1.1.0", "v2.0.0", "v1.2.0-bad", "stable"}
    assert ids["stable"] == ids["v1.0.0"]
    assert len({ids[v] for v in ("v1.0.0", "v1.1.0", "v2.0.0", "v1.2.0-bad")}) == 4
    for version in ("v1.0.0", "v1.1.0", "v2.0.0", "v1.2.0-bad"):
        image = client.images.get(f"{repository}:{version}")
        assert image.id == ids[version]
        assert f"AURA_VERSION={version}" in image.attrs["Config"]["Env"]
        assert image.labels[images.BUILD_LABEL] == images.build_hash()
    assert client.images.get(f"{repository}:stable").id == ids["v1.0.0"]
    assert repository.rsplit("/", 1)[-1] == images.repository()  # aura-api unless the environment names another
    if any("building" in m for m in built["log"]):
        # How long it takes is bench/bench_sandbox_up.py's business, not a test's.
        print(f"cold build took {built['seconds']:.1f} s")


def test_second_ensure_images_reuses(client, layout, built):
    log: list[str] = []
    t0 = time.monotonic()
    again = images.ensure_images(client, layout, log.append)
    took = time.monotonic() - t0
    print(f"warm ensure_images took {took:.3f} s")
    assert again == built["ids"]
    assert not any("building" in m for m in log), log


def test_cold_build_from_empty_cache(client, layout, engine_url):
    """A truly cold build (empty .deb cache, no images) into a scratch repository, then removed.

    The shared repository's images cannot be deleted here (a main sandbox may run on them)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AURA_SANDBOX_CACHE", STATE + "/cold-cache")
        mp.setattr(images, "IMAGE_REPOSITORY", COLD_REPOSITORY)
        shutil.rmtree(STATE + "/cold-cache", ignore_errors=True)
        lay = Layout.from_env()
        log: list[str] = []
        try:
            t0 = time.monotonic()
            ids = images.ensure_images(client, lay, log.append)
            took = time.monotonic() - t0
            print(f"cold build took {took:.1f} s:\n  " + "\n  ".join(log))
            assert any("apt-get download" in m for m in log)
            assert ids["stable"] == ids["v1.0.0"]
            assert images.image_repository(client).rsplit("/", 1)[-1] == COLD_REPOSITORY
            if engine_url.endswith(str(layout.podman_socket)):  # our Podman: no upload leftovers
                assert not list(engine.upload_tmp_dir(layout).glob("api_load.tar*"))
            t0 = time.monotonic()
            assert images.ensure_images(client, lay, log.append) == ids
            print(f"warm ensure_images took {time.monotonic() - t0:.3f} s")
        finally:
            for image in client.images.list(name=COLD_REPOSITORY):
                client.images.remove(image.id, force=True)
            shutil.rmtree(STATE + "/cold-cache", ignore_errors=True)


# -- containers ---------------------------------------------------------------------------------
def test_containers_answer(client, layout, baseline):
    for pool, version in (("api_v1", "v1.0.0"), ("api_v2", "v2.0.0")):
        r = httpx.get(url(layout, pool, "/healthz"), timeout=5)
        assert r.status_code == 200 and r.json()["status"] == "ok"
        status = httpx.get(url(layout, pool, "/status"), timeout=5).json()
        assert status == {"version": version, "schema_revision": "0002_customer", "pool": pool,
                          "healthy": True}

        assert httpx.post(url(layout, pool, "/api/orders"), timeout=5, json={"item": "w", "quantity": 1}
                          ).status_code == 401  # writes want the token; /healthz and /status do not
        assert httpx.get(url(layout, pool, "/metrics"), timeout=5).status_code == 401
        created = httpx.post(url(layout, pool, "/api/orders"), timeout=5, headers=AUTH,
                             json={"item": "widget", "quantity": 3, "customer": "acme"})
        assert created.status_code == 201, created.text
        row = created.json()
        assert row["item"] == "widget" and row["quantity"] == 3 and row["customer"] == "acme"
        assert row["created_at"]
        got = httpx.get(url(layout, pool, f"/api/orders/{row['id']}"), timeout=5)
        assert got.status_code == 200 and got.json() == row
        assert httpx.get(url(layout, pool, "/api/orders/99999999"), timeout=5).status_code == 404
        assert httpx.post(url(layout, pool, "/api/orders"), json={"item": ""}, headers=AUTH,
                          timeout=5).status_code == 400

        metrics = httpx.get(url(layout, pool, "/metrics"), headers=AUTH, timeout=5).text
        assert f'aura_build_info{{version="{version}",pool="{pool}"}} 1' in metrics
        assert 'aura_http_requests_total{method="GET",path="/api/orders/{id}",status="200"}' in metrics
        assert 'aura_http_requests_total{method="POST",path="/api/orders",status="201"}' in metrics

    st = containers.container_status(client, layout)
    assert st["api_v1"]["running"] and st["api_v1"]["healthy"]
    assert st["api_v1"]["image"].endswith(":v1.0.0") and st["api_v2"]["image"].endswith(":v2.0.0")


def test_logs_do_not_leak_password(client, layout, baseline, database_url):
    password = database_url.split(":")[2].split("@")[0]
    for pool in ("api_v1", "api_v2"):
        logs = client.containers.get(layout.container_name(pool)).logs().decode()
        assert '"GET /healthz" 200' in logs
        assert password not in logs


def test_bad_release_is_unhealthy_and_stops_fast(client, layout, repository, database_url):
    port = layout.ports.alerts  # unused by this test module otherwise
    name = f"{PREFIX}-bad"
    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(name).remove(force=True)
    c = client.containers.run(f"{repository}:{BAD_TAG}", detach=True, name=name,
                              network_mode="host", restart_policy={"Name": "no"},
                              environment={"AURA_POOL": "api_v1", "AURA_PORT": str(port),
                                           "AURA_DATABASE_URL": database_url})
    try:
        r = Wait(f"{name} to answer /healthz", 20, 0.1).poll(
            lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2), ignore=(httpx.TransportError,))
        assert r is not None, c.logs(tail=20).decode()
        assert r.status_code == 503
        assert "not accepted" in r.json()["reason"]
        status = httpx.get(f"http://127.0.0.1:{port}/status", timeout=2).json()
        assert status["version"] == BAD_TAG and status["healthy"] is False
        assert status["schema_revision"] == "0002_customer"

        c.stop(timeout=10)
        c.reload()
        assert c.status == "exited"
        # The app ended on SIGTERM by its own handler (exit 0, its "stopped" line), not by the
        # SIGKILL the engine sends once the grace is over (exit 137, no line).
        assert c.attrs["State"]["ExitCode"] == 0, c.attrs["State"]
        assert any(line.endswith(" stopped") for line in c.logs(tail=5).decode(errors="replace").splitlines())
    finally:
        c.remove(force=True)


def test_ensure_containers_idempotent_and_repairs(client, layout, repository, database_url,
                                                  baseline):
    again = containers.ensure_api_containers(client, layout, repository, database_url, print, api_token=TOKEN)
    assert again == baseline  # same containers kept

    # A stopped leftover (as a killed run leaves it) is recreated.
    client.containers.get(layout.container_name("api_v2")).stop(timeout=3)
    t0 = time.monotonic()
    fixed = containers.ensure_api_containers(client, layout, repository, database_url, print, api_token=TOKEN)
    print(f"recreate stopped api_v2 -> healthy in {time.monotonic() - t0:.2f} s")
    assert fixed["api_v1"] == baseline["api_v1"] and fixed["api_v2"] != baseline["api_v2"]

    # A removed one is created again.
    client.containers.get(layout.container_name("api_v1")).remove(force=True)
    fixed2 = containers.ensure_api_containers(client, layout, repository, database_url, print, api_token=TOKEN)
    assert fixed2["api_v1"] != baseline["api_v1"] and fixed2["api_v2"] == fixed["api_v2"]

    # One on the wrong image (a drill's deploy left behind) is put back on the baseline image.
    name = layout.container_name("api_v1")
    client.containers.get(name).remove(force=True)
    client.containers.run(f"{repository}:v1.1.0", detach=True, name=name, network_mode="host",
                          environment={"AURA_POOL": "api_v1",
                                       "AURA_PORT": str(layout.pool_port("api_v1")),
                                       "AURA_DATABASE_URL": database_url})
    containers.ensure_api_containers(client, layout, repository, database_url, print, api_token=TOKEN)
    assert httpx.get(url(layout, "api_v1", "/status"), timeout=5).json()["version"] == "v1.0.0"
    st = containers.container_status(client, layout)
    assert st["api_v1"]["image_id"] == client.images.get(f"{repository}:stable").id
    assert all(s["running"] and s["healthy"] for s in st.values())


def test_unhealthy_start_names_url_and_log(client, layout, repository):
    """A container that can never become healthy: the error says where, how long, and why."""
    containers.remove_api_containers(client, layout, print)
    old = containers.HEALTH_TIMEOUT_S
    containers.HEALTH_TIMEOUT_S = 2.0
    try:
        with pytest.raises(SandboxError) as err:
            containers.ensure_api_containers(client, layout, repository,
                                             "postgresql://aura:nope@127.0.0.1:1/aura", print)
    finally:
        containers.HEALTH_TIMEOUT_S = old
    text = str(err.value)
    assert f"http://127.0.0.1:{layout.pool_port('api_v1')}/healthz" in text
    assert "last status 503" in text and "log tail" in text and "nope" not in text
    containers.remove_api_containers(client, layout, print)


def test_remove_leaves_none(client, layout, baseline):
    containers.remove_api_containers(client, layout, print)
    containers.remove_api_containers(client, layout, print)  # harmless when absent
    names = {c.name for c in client.containers.list(all=True)}
    assert layout.container_name("api_v1") not in names
    assert layout.container_name("api_v2") not in names
    st = containers.container_status(client, layout)
    assert not any(s["exists"] for s in st.values())


# -- engine ---------------------------------------------------------------------------------------
def test_engine_start_stop_idempotent():
    """A second state folder with its own Podman service: start twice, stop twice, stale files."""
    if os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists():
        pytest.skip("an external Docker engine is used; no Podman service to manage")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AURA_SANDBOX_STATE", STATE + "/engine-test")
        lay = Layout.from_env()
        try:
            url1 = engine.ensure_engine(lay, print)
            pid1 = int((lay.engine_dir / "podman.pid").read_text())
            assert engine.ensure_engine(lay, print) == url1
            assert int((lay.engine_dir / "podman.pid").read_text()) == pid1
            assert engine.engine_status(lay)[0]
            assert docker.DockerClient(base_url=url1).ping()

            engine.stop_engine(lay, print)
            engine.stop_engine(lay, print)
            assert not engine.engine_status(lay)[0]
            assert not lay.podman_socket.exists() and not (lay.engine_dir / "podman.pid").exists()
            assert not Path(f"/proc/{pid1}").exists() or b"podman" not in Path(
                f"/proc/{pid1}/cmdline").read_bytes()

            # What a killed run leaves: a pid file naming a live non-podman pid, a dead socket.
            (lay.engine_dir / "podman.pid").write_text(f"{os.getpid()}\n")
            lay.podman_socket.write_text("")
            assert not engine.engine_status(lay)[0]
            url2 = engine.ensure_engine(lay, print)
            assert engine.ping(url2)
            assert int((lay.engine_dir / "podman.pid").read_text()) != os.getpid()
        finally:
            engine.stop_engine(lay, print)
            shutil.rmtree(lay.state, ignore_errors=True)
