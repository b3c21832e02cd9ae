"""The runbook's commands (rollback.sh, switch_upstream.sh, verify-deploy.sh, alert-webhook.sh).

The commands run as commands against a separate sandbox instance (its own state folder, ports and
container names), brought up once per module and taken down at the end (their pure helpers:
tests/unit/test_runbook_tools.py). Every bad-input case must leave the sandbox's state exactly as it
was (a fingerprint taken before and after); every happy path must end at the baseline, which the
teardown restores with other means (`python -m sandbox up`) if a test left it elsewhere.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import pty
import re
import shlex
import signal
import subprocess
import sys
import threading
import tomllib
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from helpers.wait import Wait
from tests import target_http
from tests.sandbox_ids import extra, scratch_path

pytestmark = pytest.mark.sandbox

PROJECT = Path(__file__).resolve().parents[2]
SCRIPTS = PROJECT / "sandbox" / "auraflow" / "scripts"
ROLLBACK = SCRIPTS / "rollback.sh"
VERIFY = SCRIPTS / "verify-deploy.sh"
ALERT = SCRIPTS / "alert-webhook.sh"
SWITCH = PROJECT / "sandbox" / "auraflow" / "deploy" / "switch_upstream.sh"
PY = str(PROJECT / ".venv" / "bin" / "python") if (PROJECT / ".venv" / "bin" / "python").exists() else sys.executable

# tests/sandbox_ids.py: derived from the run's AURA_SANDBOX_*. The raw-engine layout: these tests drive
# the scripts' Engine API recreate (set-aside originals, a killed swap); their compose path is drilled
# on both engines in tests/drills/test_both_engines.py.
SANDBOX_ENV = {**extra("scripts").env(), "AURA_SANDBOX_COMPOSE": "0"}
NO_ENGINE = f"unix://{scratch_path('scripts-no-engine.sock')}"  # a socket nothing listens on


# ================================================================================================
# against a separate sandbox instance
# ================================================================================================
def _env() -> dict[str, str]:
    return {**os.environ, **SANDBOX_ENV}


def sandbox(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "sandbox", *args], cwd=PROJECT, env=_env(), capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def target():
    r = sandbox("up")
    if r.returncode != 0:
        pytest.fail(f"sandbox up failed ({r.returncode}): {r.stderr[-2000:]}")
    path = Path(r.stdout.strip().splitlines()[-1])
    t = Target(path)
    yield t
    t.close()
    r = sandbox("down", "--purge", timeout=300)  # a private instance: leave no state folder either
    assert r.returncode == 0, r.stderr[-1000:]


class Target:
    def __init__(self, path: Path):
        import docker

        self.path = path
        self.cfg = tomllib.loads(path.read_text())
        self.docker = docker.DockerClient(base_url=self.cfg["docker"]["url"], timeout=30)
        self.base = self.cfg["target"]["base_url"]
        n = self.cfg["nginx"]
        self.conf, self.backup, self.include = Path(n["conf"]), Path(n["backup"]), Path(n["upstream_include"])
        self.baseline = self.fingerprint(ids=False)

    def close(self):
        self.docker.close()

    # -- state ------------------------------------------------------------------------------
    def db_state(self) -> tuple[str | None, int]:
        import psycopg

        with psycopg.connect(self.cfg["database"]["url"], connect_timeout=3) as conn:
            rev = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
            rows = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
        return rev, rows

    def front_pool(self) -> str | None:
        try:
            with target_http.urlopen(self.cfg, self.base + "/status", timeout=2) as r:
                return json.load(r).get("pool")
        except Exception:
            return None

    def fingerprint(self, ids: bool = True) -> dict:
        fp: dict = {}
        for _pool, name in self.cfg["services"].items():
            c = self.docker.containers.get(name)
            fp[name] = (c.id if ids else None, c.attrs["Image"], c.status)
        for p in (self.conf, self.backup, self.include):
            fp[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
        fp["db_revision"] = self.db_state()[0]
        fp["active_upstream"] = self.include.read_text().strip()
        fp["front_pool"] = self.front_pool()
        return fp

    def image_id(self, tag: str) -> str:
        return self.docker.images.get(f"{self.cfg['docker']['image']}:{tag}").id

    def nginx_test(self) -> bool:
        return subprocess.run(shlex.split(self.cfg["nginx"]["test_cmd"]), capture_output=True).returncode == 0

    def migrate(self, rev: str) -> None:
        subprocess.run([*shlex.split(self.cfg["commands"]["migrate"]), rev], check=True, capture_output=True)

    def healthz(self, base: str | None = None) -> int:
        return target_http.status_of(self.cfg, (base or self.base) + "/healthz")

    def at_baseline(self) -> bool:
        return self.fingerprint(ids=False) == self.baseline

    def restore(self) -> None:
        """Back to the baseline by other means than the tools under test."""
        if self.at_baseline():
            return
        r = sandbox("up", timeout=300)
        assert r.returncode == 0, r.stderr[-1500:]
        Wait("the sandbox back at its baseline", 5, 0.1).poll(self.at_baseline)
        assert self.fingerprint(ids=False) == self.baseline


def run(argv, stdin=subprocess.DEVNULL, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], stdin=stdin, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def t(target):
    """The sandbox, at baseline before the test and put back to it afterwards."""
    target.restore()
    yield target
    target.restore()


def rollback(t: Target, *args, config: Path | None = None, **kw) -> subprocess.CompletedProcess:
    return run([ROLLBACK, "--config", config or t.path, *args], **kw)


def short_error(r: subprocess.CompletedProcess, max_lines: int = 3) -> str:
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= max_lines, f"expected a short error, got:\n{r.stderr}"
    assert "Traceback" not in r.stderr
    return "\n".join(lines)


def config_copy(t: Target, tmp_path: Path, section: str, key: str, value: str) -> Path:
    text = t.path.read_text()
    pattern = re.compile(rf"(\[{re.escape(section)}\][^\[]*?^{re.escape(key)} = )\"[^\"]*\"", re.S | re.M)
    new, n = pattern.subn(lambda m: m.group(1) + json.dumps(value), text)
    assert n == 1, f"{section}.{key} not found"
    out = tmp_path / "sandbox.toml"
    out.write_text(new)
    return out


# -- bad input: exit code, a short clear message, state unchanged --------------------------------
BAD_CASES = {
    "unknown type": (["--type", "bogus", "--reason", "x", "--yes"], 2, "unknown --type"),
    "missing reason": (["--type", "image", "--tag", "stable", "--yes"], 2, "--reason"),
    "unknown tag": (["--type", "image", "--tag", "v9.9.9-nope", "--reason", "x", "--yes"], 3, "unknown tag"),
    "no --yes without a terminal": (["--type", "upstream", "--reason", "x"], 2, "--yes"),
    "tag on upstream": (["--type", "upstream", "--tag", "v1.0.0", "--reason", "x", "--yes"], 2, "--tag"),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_rollback_refuses_bad_input_and_changes_nothing(t, case):
    argv, code, words = BAD_CASES[case]
    before = t.fingerprint()
    r = rollback(t, *argv)
    assert r.returncode == code, r.stderr
    assert words in short_error(r)
    assert t.fingerprint() == before


def test_broken_backup_config_is_refused_and_conf_untouched(t, tmp_path):
    broken = tmp_path / "nginx.staging.conf.backup"
    broken.write_bytes(t.backup.read_bytes() + b"\ninvalid_config\n")
    cfg = config_copy(t, tmp_path, "nginx", "backup", str(broken))
    t.conf.write_bytes(t.conf.read_bytes() + b"\n# drifted\n")  # so a restore would be visible
    before = t.fingerprint()
    r = rollback(t, "--type", "nginx", "--reason", "broken backup", "--yes", config=cfg)
    assert r.returncode == 3, r.stderr
    assert "fails nginx -t" in short_error(r)
    assert t.fingerprint() == before


@pytest.mark.parametrize("kind", ["database", "full"])
def test_database_unreachable_is_a_precondition(t, tmp_path, kind):
    url = t.cfg["database"]["url"]
    port = re.search(r":(\d+)/", url.split("@", 1)[1]).group(1)
    cfg = config_copy(t, tmp_path, "database", "url", url.replace(f":{port}/", ":1/"))
    t.migrate(t.cfg["database"]["bad_revision"])  # a real reason to roll back
    before = t.fingerprint()
    r = rollback(t, "--type", kind, "--tag", "stable", "--reason", "db down", "--yes", config=cfg)
    assert r.returncode == 3, r.stderr
    msg = short_error(r)
    assert "unreachable" in msg and "***" in msg
    assert url.split(":")[2].split("@")[0] not in r.stderr + r.stdout  # no password
    assert t.fingerprint() == before


@pytest.mark.parametrize("kind", ["image", "full"])
def test_engine_unreachable_is_a_precondition(t, tmp_path, kind):
    cfg = config_copy(t, tmp_path, "docker", "url", NO_ENGINE)
    t.conf.write_bytes(t.conf.read_bytes() + b"\n# drifted\n")
    before = t.fingerprint()
    r = rollback(t, "--type", kind, "--tag", "stable", "--reason", "engine down", "--yes", config=cfg)
    assert r.returncode == 3, r.stderr
    assert "does not answer" in short_error(r)
    assert t.fingerprint() == before


def test_declined_confirmation_on_a_terminal_changes_nothing(t):
    subprocess.run([str(SWITCH), "--config", str(t.path), "--target", "api_v2"], check=True, capture_output=True)
    before = t.fingerprint()
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([str(ROLLBACK), "--config", str(t.path), "--type", "upstream", "--reason", "tty"],
                             stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.write(master, b"n\n")
        out, err = p.communicate(timeout=30)
    finally:
        os.close(master)
        os.close(slave)
    assert p.returncode == 3, err
    assert "Proceed?" in out and "not confirmed" in err
    assert t.fingerprint() == before


def test_image_that_never_gets_healthy_puts_the_previous_container_back(t):
    before = t.fingerprint()
    r = rollback(t, "--type", "image", "--tag", t.cfg["docker"]["bad_tag"], "--reason", "bad",
                 "--yes", "--health-timeout", "3")
    assert r.returncode == 4, r.stderr
    assert "put back" in r.stderr and len(r.stderr.splitlines()) <= 5
    assert t.fingerprint() == before  # same container (same id), same image, running
    assert t.healthz() == 200


PREV = "-rollback-prev"


def _kill_while_waiting_for_health(t: Target) -> tuple[subprocess.Popen, str, str]:
    """An image rollback to the bad tag, SIGTERMed (its whole process group, as the drill suite
    does on a timeout) once the original is set aside and the new container waits for /healthz.
    Returns (the process, its stderr, the original container's id)."""
    import docker.errors

    name = t.cfg["services"]["api_v1"]
    original = t.docker.containers.get(name).id
    p = subprocess.Popen([str(ROLLBACK), "--config", str(t.path), "--type", "image", "--tag",
                          t.cfg["docker"]["bad_tag"], "--reason", "killed", "--yes", "--health-timeout", "60"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    def new_one_running():
        assert p.poll() is None, p.communicate()
        t.docker.containers.get(name + PREV)  # the original set aside
        new = t.docker.containers.get(name)
        return new if new.id != original and new.status == "running" else None

    try:
        new = Wait("the rollback to set the original aside and run the new one", 60, 0.05).until(
            new_one_running, ignore=(docker.errors.NotFound,))
        # Killed once it polls the new container's own /healthz (the bad tag never passes it): the
        # new container logs each request it answers.
        Wait("the rollback to poll the new container's /healthz", 30, 0.05).until(
            lambda: b'"GET /healthz"' in new.logs())
        os.killpg(p.pid, signal.SIGTERM)
        _, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    return p, err, original


def test_rollback_killed_by_sigterm_is_audited_and_releases_its_lock(t):
    n = len(audit_lines(t))
    p, err, original = _kill_while_waiting_for_health(t)
    name = t.cfg["services"]["api_v1"]
    try:
        assert p.returncode == 143, err
        assert "killed" in err and "Traceback" not in err
        new = audit_lines(t)[n:]
        assert len(new) == 1 and "type=image" in new[0] and "result=killed" in new[0] and "exit=143" in new[0]
        with open(t.path.parent / "rollback.lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if still held
    finally:  # put the original back by other means than the tool under test
        prev = t.docker.containers.get(name + PREV)
        t.docker.containers.get(name).remove(force=True)
        prev.rename(name)
        prev.start()
        assert prev.id == original


def test_next_rollback_puts_back_the_original_a_killed_run_set_aside(t):
    _p, _err, original = _kill_while_waiting_for_health(t)
    name = t.cfg["services"]["api_v1"]
    assert t.docker.containers.get(name + PREV).id == original  # the only copy of the original
    r = rollback(t, "--type", "image", "--tag", "stable", "--reason", "after a kill", "--yes")
    assert r.returncode == 0, r.stderr
    assert "interrupted rollback" in r.stdout and "putting the original back" in r.stdout
    assert t.docker.containers.get(name).id == original  # the original, not a recreated one
    assert not [c for c in t.docker.containers.list(all=True) if c.name == name + PREV]
    assert t.at_baseline()


def _releases_copy(cfg: Path, edit: str) -> None:
    text = cfg.read_text()
    if edit in ("ambiguous", "stable listed"):  # the known-good releases disagree
        text, n = re.subn(r'^"v1\.1\.0" = "[^"]*"$', '"v1.1.0" = "0001_base"', text, flags=re.M)
        assert n == 1
    if edit == "stable listed":
        good = tomllib.loads(text)["releases"]["v1.0.0"]
        text = text.replace("[releases]\n", f'[releases]\n"stable" = "{good}"\n', 1)
    cfg.write_text(text)


@pytest.mark.parametrize("releases", ["as written", "stable listed", "ambiguous"])
def test_database_rollback_to_stable_with_the_engine_down(t, tmp_path, releases):
    cfg = config_copy(t, tmp_path, "docker", "url", NO_ENGINE)
    _releases_copy(cfg, releases)
    rev0, _ = t.db_state()
    t.migrate(t.cfg["database"]["bad_revision"])
    _, rows = t.db_state()
    before = t.fingerprint()
    r = rollback(t, "--type", "database", "--reason", "engine down", "--yes", config=cfg)
    if releases == "ambiguous":  # which release "stable" is needs the engine: refused, one line
        assert r.returncode == 3, r.stderr
        msg = short_error(r, max_lines=1)
        assert "does not answer" in msg and "--tag VERSION" in msg
        assert t.fingerprint() == before
        return
    assert r.returncode == 0, r.stderr
    assert t.db_state() == (rev0, rows)
    if releases == "as written":
        assert "engine unreachable" in r.stdout
    assert t.healthz() == 200 and t.at_baseline()


def test_no_command_shows_or_logs_the_db_password_or_the_webhook_token(t, tmp_path):
    db_url = t.cfg["database"]["url"]
    password = urlsplit(db_url).password
    _alert_conf, hook = _alert_config(t)
    token = hook.rstrip("/").rsplit("/", 1)[1]
    assert password and token
    n = len(audit_lines(t))
    runs: list[tuple[str, int, subprocess.CompletedProcess]] = []

    def case(label: str, code: int, r: subprocess.CompletedProcess) -> None:
        runs.append((label, code, r))

    def cfg_with(section: str, key: str, value: str, sub: str) -> Path:
        (tmp_path / sub).mkdir()
        return config_copy(t, tmp_path / sub, section, key, value)

    # libpq echoes a malformed URI whole, password included
    malformed = cfg_with("database", "url", re.sub(r"@[^:/]+", "@[::1", db_url, count=1), "malformed")
    port = re.search(r":(\d+)/", db_url.split("@", 1)[1]).group(1)
    down = cfg_with("database", "url", db_url.replace(f":{port}/", ":1/"), "down")
    fake = tmp_path / "fake-migrate.sh"  # a migrate command that names the DSN in another form
    other_form = db_url.replace("postgresql://", "postgresql+psycopg://")
    fake.write_text(f"#!/bin/sh\necho 'cannot connect: {other_form}' >&2\n"
                    f"echo 'password {password} refused' >&2\nexit 1\n")
    fake.chmod(0o755)
    bad_migrate = cfg_with("commands", "migrate", str(fake), "migrate")
    t.migrate(t.cfg["database"]["bad_revision"])  # so that a database rollback has work to do
    for kind in ("database", "full"):
        case(f"{kind}, malformed db url", 3,
             rollback(t, "--type", kind, "--tag", "stable", "--reason", "x", "--yes", config=malformed))
    case("database, db down", 3, rollback(t, "--type", "database", "--reason", "x", "--yes", config=down))
    case("database, migrate fails", 4, rollback(t, "--type", "database", "--reason", "x", "--yes", config=bad_migrate))
    case("image, unknown tag", 3, rollback(t, "--type", "image", "--tag", "v9-nope", "--reason", "x", "--yes"))
    case("unknown type", 2, rollback(t, "--type", "bogus", "--reason", "x", "--yes", config=malformed))
    case("switch, unknown target", 2, run([SWITCH, "--config", malformed, "--target", "api_v9"]))
    case("verify, nothing there", 5, run([VERIFY, "--api-url", "http://127.0.0.1:1"]))
    for label, url, code in [("webhook down", hook.replace(urlsplit(hook).netloc, "127.0.0.1:1"), 4),
                             ("webhook url with a space", hook + " x", 2),
                             ("webhook path wrong", hook + "/extra", 4)]:
        conf = tmp_path / f"alert-{len(runs)}.toml"
        conf.write_text(f"webhook_url = {json.dumps(url)}\n")
        case(label, code, run([ALERT, "--config", conf, "--attempts", "2", "a", "b", "c", "d", "e"]))
    for label, code, r in runs:
        assert r.returncode == code, (label, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr, label
        for secret in (password, token):
            assert secret not in r.stdout + r.stderr, (label, r.stdout, r.stderr)
    # audit lines go next to the config each run was given
    logged = audit_lines(t)[n:] + [line for f in sorted(tmp_path.glob("*/rollback-audit.log"))
                                   for line in f.read_text(encoding="utf-8").splitlines()]
    assert len(logged) >= 6  # every rollback run above left its line
    assert not [line for line in logged if password in line or token in line]


def test_switch_upstream_refuses_unknown_target_and_undoes_failed_test(t):
    before = t.fingerprint()
    r = run([SWITCH, "--config", t.path, "--target", "api_v9"])
    assert r.returncode == 2 and "unknown target" in short_error(r)
    assert t.fingerprint() == before
    t.conf.write_bytes(t.conf.read_bytes() + b"\ninvalid_config\n")  # nginx -t now fails
    before = t.fingerprint()
    r = run([SWITCH, "--config", t.path, "--target", "api_v2"])
    assert r.returncode == 4, r.stderr
    assert "previous include put back" in r.stderr
    assert t.fingerprint() == before


# -- happy paths: each ends at the baseline -----------------------------------------------------
def audit_lines(t: Target) -> list[str]:
    p = t.path.parent / "rollback-audit.log"
    return p.read_text(encoding="utf-8").splitlines() if p.exists() else []


def test_image_rollback_recreates_api_v1_and_is_idempotent(t):
    r = rollback(t, "--type", "image", "--tag", "v1.1.0", "--reason", "fault", "--yes")
    assert r.returncode == 0, r.stderr
    name = t.cfg["services"]["api_v1"]
    assert t.docker.containers.get(name).attrs["Image"] == t.image_id("v1.1.0")
    n = len(audit_lines(t))
    r = rollback(t, "--type", "image", "--tag", "stable", "--reason", "演练测试", "--yes")
    assert r.returncode == 0, r.stderr
    c = t.docker.containers.get(name)
    assert c.attrs["Image"] == t.image_id("stable")
    env = dict(e.split("=", 1) for e in c.attrs["Config"]["Env"])
    assert env["AURA_VERSION"] == "v1.0.0" and env["AURA_POOL"] == "api_v1"
    assert c.attrs["HostConfig"]["NetworkMode"] == "host" and c.labels.get("aura.pool") == "api_v1"
    line = audit_lines(t)[n]
    assert "type=image" in line and "tag=stable" in line and "result=ok" in line and "演练测试" in line
    first_id = c.id
    r = rollback(t, "--type", "image", "--tag", "stable", "--reason", "again", "--yes")
    assert r.returncode == 0 and "nothing to do" in r.stdout
    assert t.docker.containers.get(name).id == first_id
    assert t.at_baseline()


def test_nginx_rollback_restores_a_latently_broken_config(t):
    t.conf.write_bytes(t.conf.read_bytes() + b"invalid_config\n")  # the runbook's fault
    subprocess.run(shlex.split(t.cfg["nginx"]["reload_cmd"]), capture_output=True)
    assert not t.nginx_test() and t.healthz() == 200  # latent: nginx kept the old config
    r = rollback(t, "--type", "nginx", "--reason", "Nginx 配置演练", "--yes")
    assert r.returncode == 0, r.stderr
    assert t.nginx_test() and t.conf.read_bytes() == t.backup.read_bytes()
    assert t.at_baseline()
    r = rollback(t, "--type", "nginx", "--reason", "again", "--yes")
    assert r.returncode == 0 and t.at_baseline()


def test_nginx_rollback_starts_nginx_when_it_is_down(t):
    stop = [a for a in shlex.split(t.cfg["nginx"]["test_cmd"]) if a != "-t"]
    subprocess.run([*stop[:1], "-s", "stop", *stop[1:]], check=True, capture_output=True)
    Wait("nginx to stop answering", 5, 0.05).poll(lambda: t.healthz() == 0)
    assert t.healthz() == 0
    r = rollback(t, "--type", "nginx", "--reason", "nginx down", "--yes")
    assert r.returncode == 0, r.stderr
    assert "started" in r.stdout and t.healthz() == 200
    assert t.at_baseline()


def test_database_rollback_keeps_every_row(t):
    rev0, _ = t.db_state()
    t.migrate(t.cfg["database"]["bad_revision"])
    assert t.healthz() == 503
    _, rows = t.db_state()
    r = rollback(t, "--type", "database", "--reason", "数据库迁移问题", "--yes")
    assert r.returncode == 0, r.stderr
    assert t.db_state() == (rev0, rows)
    assert t.healthz() == 200 and t.at_baseline()
    r = rollback(t, "--type", "database", "--reason", "again", "--yes")
    assert r.returncode == 0 and "nothing to do" in r.stdout


class Probe:
    """GET /healthz on the front in a loop; counts failures (bounded in time)."""

    def __init__(self, cfg: dict, url: str):
        self.cfg, self.url, self.ok, self.failed, self._stop = cfg, url, 0, 0, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        for _ in Wait("the probe to be stopped", 60, 0.01).rounds():
            if self._stop.is_set():
                return
            try:
                with target_http.urlopen(self.cfg, self.url, timeout=2) as r:
                    self.ok += r.status == 200
                    self.failed += r.status != 200
            except Exception:
                self.failed += 1

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def test_upstream_switch_and_rollback_lose_no_request(t):
    with Probe(t.cfg, t.base + "/healthz") as probe:
        r = run([SWITCH, "--config", t.path, "--target", "api_v2"])
        assert r.returncode == 0, r.stderr
        assert t.front_pool() == "api_v2"
        r = rollback(t, "--type", "upstream", "--reason", "Upstream 切换演练", "--yes")
        assert r.returncode == 0, r.stderr
    assert probe.failed == 0 and probe.ok > 10
    assert t.front_pool() == "api_v1" and t.at_baseline()
    r = run([SWITCH, "--config", t.path, "--target", "api_v1"])
    assert r.returncode == 0 and "nothing to do" in r.stdout


def test_full_rollback_to_stable_from_everything_broken(t):
    rollback(t, "--type", "image", "--tag", "v1.1.0", "--reason", "fault", "--yes").check_returncode()
    run([SWITCH, "--config", t.path, "--target", "api_v2"]).check_returncode()
    t.migrate(t.cfg["database"]["bad_revision"])
    t.conf.write_bytes(t.conf.read_bytes() + b"invalid_config\n")
    _, rows = t.db_state()
    assert t.healthz() == 503 and not t.nginx_test()
    r = rollback(t, "--type", "full", "--tag", "stable", "--reason", "紧急回滚", "--yes")
    assert r.returncode == 0, r.stderr
    assert t.at_baseline() and t.db_state()[1] == rows
    v = run([VERIFY, "--api-url", t.base, "--expect-version", "v1.0.0", "--config", t.path])
    assert v.returncode == 0, v.stdout
    r = rollback(t, "--type", "full", "--tag", "stable", "--reason", "again", "--yes")
    assert r.returncode == 0 and "nothing to do" in r.stdout


# -- verify-deploy and alert-webhook --------------------------------------------------------------
def test_verify_deploy_passes_at_baseline_and_fails_on_wrong_version(t):
    r = run([VERIFY, "--api-url", t.base, "--expect-version", "v1.0.0", "--config", t.path])
    assert r.returncode == 0, r.stdout
    lines = r.stdout.splitlines()
    assert [line.split()[1] for line in lines[:4]] == ["healthz", "status", "metrics", "orders"]
    assert all(line.startswith("PASS") for line in lines[:4]) and "all 4 checks passed" in lines[-1]
    r = run([VERIFY, "--api-url", t.base, "--expect-version", "v9.9.9", "--config", t.path])
    assert r.returncode == 5 and "FAIL status" in r.stdout and "FAILED" in r.stdout.splitlines()[-1]
    r = run([VERIFY, "--api-url", "not-a-url"])
    assert r.returncode == 2 and "--api-url" in short_error(r)


def _alert_config(t: Target) -> tuple[Path, str]:
    argv = shlex.split(t.cfg["commands"]["alert"])
    path = Path(argv[argv.index("--config") + 1])
    return path, tomllib.loads(path.read_text())["webhook_url"]


def _inbox(t: Target) -> list:
    with urllib.request.urlopen(t.cfg["alert"]["inbox_url"], timeout=3) as r:
        return json.load(r)


def test_alert_webhook_delivers_the_runbook_alert_in_utf8(t):
    conf, url = _alert_config(t)
    token = url.rstrip("/").rsplit("/", 1)[1]
    r = run([ALERT, "--config", conf, "system-alert", "deployment", "critical", "紧急回滚执行",
             "生产环境已回滚到稳定版本"])
    assert r.returncode == 0, r.stderr
    assert token not in r.stdout + r.stderr
    last = _inbox(t)[-1]
    assert (last["event"], last["component"], last["severity"], last["title"], last["message"]) == \
        ("system-alert", "deployment", "critical", "紧急回滚执行", "生产环境已回滚到稳定版本")
    dt.datetime.fromisoformat(last["timestamp"])


def test_alert_webhook_failures_are_bounded_and_never_show_the_secret(t, tmp_path):
    _, url = _alert_config(t)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(f'webhook_url = "{url.rsplit("/", 1)[0]}/not-the-token-xyz"\n')
    r = run([ALERT, "--config", wrong, "a", "b", "c", "d", "e"])
    assert r.returncode == 4 and "401" in r.stderr and "not-the-token-xyz" not in r.stdout + r.stderr
    down = tmp_path / "down.toml"
    down.write_text('webhook_url = "http://bob-the-user:hunter2@127.0.0.1:1/hooks/tok-secret?k=q-s3cr3t"\n')
    r = run([ALERT, "--config", down, "--attempts", "2", "a", "b", "c", "d", "e"])
    # bounded by --attempts: one retry, then it gives up saying how many attempts it made
    assert r.returncode == 4
    # (progress, the retry line, goes to stdout; the verdict to stderr)
    assert r.stdout.count("attempt 1/2 to ") == 1 and "attempt 2/2" not in r.stdout + r.stderr
    assert "after 2 attempts" in r.stderr
    for secret in ("hunter2", "tok-secret", "q-s3cr3t", "bob-the-user"):
        assert secret not in r.stdout + r.stderr
    r = run([ALERT, "--config", tmp_path / "missing.toml", "a", "b", "c", "d", "e"])
    assert r.returncode == 2 and "not found" in short_error(r)


