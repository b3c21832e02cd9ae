"""A team's staging, drilled as the sandbox now looks: HTTPS with a private CA, a bearer token,
the team's own smoke test and schema query, a first run that touches nothing (issue 21).

Every run is the real suite as a subprocess against the run's sandbox, with a complete config
made from the sandbox's own (so no `sandbox up` rewrites anything in between) and changed in the
one key a case is about.
"""
from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import shlex
import ssl
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest

from tests import target_http
from tests.drills.suite_runner import PROJECT, executable, fresh_reports_dir, reports_snapshot, run_suite

pytestmark = pytest.mark.e2e

ONE_OF_EACH = "image or invalid_config or database or upstream or full or emergency"


def sandbox_text(config: Path) -> str:
    return config.read_text()


def complete_config(tmp_path: Path, sandbox: Path, name: str, edit) -> Path:
    """The sandbox's config, as a complete config of its own, passed through `edit(text)`."""
    path = tmp_path / name
    path.write_text(edit(sandbox_text(sandbox)))
    path.chmod(0o600)
    return path


def with_key(text: str, section: str, line: str) -> str:
    """`line` added as the first key of `[section]`."""
    return text.replace(f"[{section}]\n", f"[{section}]\n{line}\n", 1)


def one_error(r) -> str:
    lines = [line for line in r.output.splitlines() if line.startswith("ERROR:")]
    assert len(lines) == 1, r.output[-3000:]
    return lines[0]


def staging_state(cfg: dict) -> dict[str, str]:
    """What a run that touches nothing must leave exactly as it was: the fingerprint's sources
    (nginx files, include, the containers' image IDs, the schema's revision, the orders), the
    target's audit log and the alert inbox."""
    import docker
    import psycopg

    out = {}
    for key in ("conf", "backup", "upstream_include"):
        out[key] = hashlib.sha256(Path(cfg["nginx"][key]).read_bytes()).hexdigest()
    engine = docker.DockerClient(base_url=cfg["docker"]["url"], timeout=30)
    try:
        for pool, name in cfg["services"].items():
            c = engine.containers.get(name)
            out[pool] = f"{c.id} {c.attrs['Image']} {c.status}"
    finally:
        engine.close()
    with psycopg.connect(cfg["database"]["url"], connect_timeout=3) as conn:
        out["revision"] = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        out["orders"] = str(conn.execute("SELECT count(*), max(id) FROM orders").fetchone())
    audit = Path(cfg["commands"]["rollback"].split("--config ")[1].strip("'\"")).parent / "rollback-audit.log"
    out["audit log"] = hashlib.sha256(audit.read_bytes()).hexdigest() if audit.exists() else "absent"
    out["alert inbox"] = json.dumps(target_http.get_json(cfg, cfg["alert"]["inbox_url"]))
    return out


def no_secret_in(token: str, run, *folders: Path) -> None:
    assert token not in run.output
    for folder in folders:
        for p in folder.rglob("*"):
            if p.is_file():
                assert token.encode() not in p.read_bytes(), f"the token is in {p}"


# -- refusals before anything is touched -------------------------------------------------------

def test_a_wrong_token_exits_4_with_one_line_naming_the_401(tmp_path, main_sandbox):
    cfg = tomllib.loads(main_sandbox.read_text())
    token = target_http.token(cfg)
    wrong = complete_config(tmp_path, main_sandbox, "wrong-token.toml",
                            lambda t: t.replace(f"Bearer {token}", "Bearer api-not-the-token-42"))
    before = staging_state(cfg)
    reports = fresh_reports_dir()
    r = run_suite("--drill-config", str(wrong), "-k", "upstream", reports=reports)
    assert r.exit_code == 4, r.output[-2000:]
    line = one_error(r)
    assert "[http] headers: GET https://127.0.0.1:" in line and "/metrics answered 401 Unauthorized" in line
    assert "api-not-the-token-42" not in r.output and token not in r.output
    assert staging_state(cfg) == before
    assert reports_snapshot(reports) == {}


def test_no_ca_file_exits_4_with_one_line_about_the_certificate(tmp_path, main_sandbox):
    cfg = tomllib.loads(main_sandbox.read_text())
    no_ca = complete_config(tmp_path, main_sandbox, "no-ca.toml",
                            lambda t: "\n".join(x for x in t.splitlines() if not x.startswith("ca_file = ")) + "\n")
    before = staging_state(cfg)
    r = run_suite("--drill-config", str(no_ca), "-k", "upstream")
    assert r.exit_code == 4, r.output[-2000:]
    line = one_error(r)
    assert re.search(r"\[target\] base_url: https://127\.0\.0\.1:\d+/healthz unreachable: certificate does not "
                     r"verify: .*\(give the CA that signed it as a PEM bundle in \[http\] ca_file\)$", line), line
    assert staging_state(cfg) == before


def test_revision_sql_is_what_the_suite_reads_the_schema_by(tmp_path, main_sandbox):
    odd = complete_config(tmp_path, main_sandbox, "revision-sql.toml", lambda t: t.replace(
        'revision_sql = "SELECT version_num FROM alembic_version"', "revision_sql = \"SELECT 'r-' || version_num "
        'FROM alembic_version"'))
    r = run_suite("--drill-config", str(odd), "--preflight-only", "-k", "database")
    assert r.exit_code == 4, r.output[-2000:]
    assert "database at revision r-0002_customer, not 0002_customer" in r.output


# -- --preflight-only --------------------------------------------------------------------------

def _recording_rollback(tmp_path: Path, sandbox: Path) -> tuple[Path, Path]:
    """The sandbox's config with its rollback command behind a wrapper that records the argv it
    was given (NUL-separated), then runs the real one."""
    record = tmp_path / "rollback-argv"
    wrapper = executable(tmp_path / "record-rollback.sh",
                         f'printf "%s\\0" "$@" >> {shlex.quote(str(record))}\nexec "$@"\n')
    config = complete_config(tmp_path, sandbox, "recording.toml", lambda t: re.sub(
        r'^rollback = "(.*)"$', lambda m: f'rollback = "{wrapper} {m.group(1)}"', t, count=1, flags=re.M))
    return config, record


def test_preflight_only_prints_the_plan_and_touches_nothing(tmp_path, main_sandbox):
    cfg = tomllib.loads(main_sandbox.read_text())
    config, record = _recording_rollback(tmp_path, main_sandbox)
    reports = fresh_reports_dir()
    # What earlier nights left there (run_suite itself removes a stale drill-results.json first).
    (reports / "history.jsonl").write_text('{"an earlier run": true}\n')
    (reports / "rollback-drill.log").write_text("Tue Dec  1 02:17:00 UTC 2026: an earlier night\n")
    before_reports = reports_snapshot(reports)
    before = staging_state(cfg)
    r = run_suite("--drill-config", str(config), "--preflight-only", reports=reports)
    assert r.exit_code == 0, r.output[-3000:]
    assert staging_state(cfg) == before
    assert reports_snapshot(reports) == before_reports
    assert not record.exists()  # the rollback command was not run
    plans = [line for line in r.output.splitlines() if "; rollback: " in line]
    assert len(plans) == 7, r.output[-3000:]
    upstream = next(line for line in plans if "test_upstream_switch_rollback" in line)
    assert "fault upstream_switch" in upstream and "budget 60s" in upstream and "restore: " in upstream
    planned = shlex.split(upstream.split("; rollback: ", 1)[1].split("; budget ", 1)[0])

    # The drill runs exactly the command line the plan showed.
    drilled = run_suite("--drill-config", str(config), "-k", "upstream")
    assert drilled.exit_code == 0, drilled.output[-3000:]
    ran = record.read_bytes().split(b"\0")[:-1]
    assert [a.decode() for a in ran] == planned[1:]  # the wrapper's own path is argv[0]


def test_preflight_only_on_a_target_off_its_baseline_exits_4(tmp_path, main_sandbox):
    cfg = tomllib.loads(main_sandbox.read_text())
    switch = shlex.split(cfg["commands"]["switch_upstream"])
    subprocess.run([*switch, "--target", "api_v2"], check=True, capture_output=True, timeout=60)
    try:
        r = run_suite("--drill-config", str(main_sandbox), "--preflight-only", "-k", "upstream")
    finally:
        subprocess.run([*switch, "--target", "api_v1"], check=True, capture_output=True, timeout=60)
    assert r.exit_code == 4, r.output[-2000:]
    assert "upstream include sends traffic to api_v2, not api_v1" in r.output


# -- the team's own smoke ----------------------------------------------------------------------

def test_a_failing_perf_smoke_fails_the_drill_with_its_output_attached(tmp_path, main_sandbox):
    seen_env = tmp_path / "smoke-env"
    smoke = executable(tmp_path / "perf-smoke.sh",
                       f'echo "$DRILL_BASE_URL $DRILL_API_URL $DRILL_CA_FILE $#" > {shlex.quote(str(seen_env))}\n'
                       'echo "smoke-marker: 12 of 200 requests over 800 ms"\necho "smoke-stderr-marker" >&2\nexit 3\n')
    config = complete_config(tmp_path, main_sandbox, "perf-smoke.toml",
                             lambda t: with_key(t, "commands", f'perf_smoke = "{smoke}"'))
    r = run_suite("--drill-config", str(config), "-k", "upstream")
    assert r.exit_code == 1, r.output[-3000:]
    d = r.drill("upstream")
    assert d["status"] == "failed"
    assert any(p.startswith("performance smoke: perf_smoke ") and "exit 3" in p for p in d["problems"]), d["problems"]
    html = (r.reports / "drill-report.html").read_text()
    assert "perf_smoke output (tail)" in html and "smoke-marker: 12 of 200" in html and "smoke-stderr-marker" in html
    cfg = tomllib.loads(main_sandbox.read_text())
    base = cfg["target"]["base_url"]
    assert seen_env.read_text().split() == [base, cfg["target"]["api_url"], cfg["http"]["ca_file"], "0"]


# -- a front that wants the token on every request ---------------------------------------------

class _TokenFront(http.server.ThreadingHTTPServer):
    """HTTPS on 127.0.0.1 with the sandbox's own certificate, in front of the sandbox's front:
    every request without the token gets 401 (counted); the others are passed on as they are."""
    daemon_threads = True

    def __init__(self, cfg: dict):
        self.cfg, self.refused, self.passed, self.lock = cfg, 0, 0, threading.Lock()
        super().__init__(("127.0.0.1", 0), _TokenHandler)
        tls = Path(cfg["http"]["ca_file"]).parent
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls / "front.pem", tls / "front.key")
        self.socket = context.wrap_socket(self.socket, server_side=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}"


class _TokenHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _pass_on(self) -> None:
        import http.client
        from urllib.parse import urlsplit

        server: _TokenFront = self.server  # type: ignore[assignment]
        if self.headers.get("Authorization") != target_http.headers(server.cfg)["Authorization"]:
            with server.lock:
                server.refused += 1
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with server.lock:
            server.passed += 1
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        front = urlsplit(server.cfg["target"]["base_url"])
        conn = http.client.HTTPSConnection(front.hostname, front.port, timeout=10,
                                           context=target_http.context(server.cfg))
        try:
            conn.request(self.command, self.path, body=body or None,
                         headers={k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")})
            answer = conn.getresponse()
            data = answer.read()
        except OSError:
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        finally:
            conn.close()
        self.send_response(answer.status)
        for k, v in answer.getheaders():
            if k.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_HEAD = _pass_on


def test_a_front_that_wants_the_token_everywhere_sees_none_without_it(tmp_path, main_sandbox):
    cfg = tomllib.loads(main_sandbox.read_text())
    front = _TokenFront(cfg)
    thread = threading.Thread(target=front.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        config = complete_config(tmp_path, main_sandbox, "token-front.toml", lambda t: t.replace(
            f'base_url = "{cfg["target"]["base_url"]}"', f'base_url = "{front.url}"').replace(
            f'api_url = "{cfg["target"]["api_url"]}"', f'api_url = "{front.url}"'))
        r = run_suite("--drill-config", str(config), "-k", ONE_OF_EACH, timeout=1500)
    finally:
        front.shutdown()
        front.server_close()
    assert r.exit_code == 0, r.output[-4000:]
    assert {d["type"] for d in r.results["drills"]} == {"image", "nginx", "database", "upstream", "full", "emergency"}
    assert front.passed > 100 and front.refused == 0, (front.passed, front.refused)
    no_secret_in(target_http.token(cfg), r, r.reports)


# -- an app whose /status shows no pool --------------------------------------------------------

def test_the_seven_drills_pass_on_a_sandbox_whose_status_shows_no_pool(main_sandbox):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    try:
        up = subprocess.run([sys.executable, "-m", "sandbox", "up"], cwd=PROJECT, capture_output=True, text=True,
                            timeout=600, env={**env, "AURA_SANDBOX_STATUS_POOL": "0"})
        assert up.returncode == 0, up.stderr[-2000:]
        cfg = tomllib.loads(Path(up.stdout.strip().splitlines()[-1]).read_text())
        assert cfg["status"]["pool_field"] == ""
        assert "pool" not in target_http.get_json(cfg, cfg["target"]["base_url"] + "/status")
        os.environ["AURA_SANDBOX_STATUS_POOL"] = "0"  # the suite's own `sandbox up` keeps it so
        try:
            r = run_suite(timeout=1500)
        finally:
            del os.environ["AURA_SANDBOX_STATUS_POOL"]
        assert r.exit_code == 0, r.output[-4000:]
        assert len(r.results["drills"]) == 7 and all(d["status"] == "passed" for d in r.results["drills"])
        upstream = r.drill("upstream")
        assert upstream["fault"]["observed"] == "visible"  # the two pools serve two releases
    finally:
        back = subprocess.run([sys.executable, "-m", "sandbox", "up"], cwd=PROJECT, capture_output=True, text=True,
                              timeout=600, env=env)
        assert back.returncode == 0, back.stderr[-2000:]
