"""The runbook commands' own helpers (sandbox/auraflow/tools), pure: redaction, metrics parsing, the audit
line, the alert payload, a container's spec and nginx's start command. The commands themselves:
tests/sandbox/test_tool_arguments.py (arguments, --help) and, against a sandbox,
tests/sandbox/test_runbook_commands.py."""
from __future__ import annotations

import datetime as dt
import json
from typing import ClassVar

import pytest

from sandbox.auraflow.tools import alert, audit, engine, verify, web
from sandbox.auraflow.tools.config import Config

pytestmark = pytest.mark.unit



def test_redact_url_hides_token_userinfo_and_query():
    assert web.redact_url("http://127.0.0.1:18083/hooks/s3cr3t") == "http://127.0.0.1:18083/***"
    shown = web.redact_url("https://bob:pw@hooks.example.com/T0/B1/xyz?token=abc#f")
    assert shown == "https://hooks.example.com/***"
    assert "pw" not in shown and "abc" not in shown and "bob" not in shown
    assert web.redact_url("http://h:1") == "http://h:1/"


def test_redact_dsn_hides_password():
    assert web.redact_dsn("postgresql://aura:pw-123@127.0.0.1:5432/aura") == \
        "postgresql://aura:***@127.0.0.1:5432/aura"


def test_metrics_parsing():
    text = ('# HELP x\naura_build_info{version="v1.0.0",pool="api_v1"} 1\n'
            'aura_http_requests_total{method="GET",path="/healthz",status="200"} 3\n'
            'aura_http_requests_total{method="GET",path="/metrics",status="200"} 2\n'
            'process_cpu_seconds_total 7.5\ngarbage line here\n')
    samples = verify.parse_metrics(text)
    assert verify.build_version(samples) == "v1.0.0"
    assert verify.request_count(samples) == 5  # request counters only, not cpu seconds


def test_audit_line_is_one_line_even_with_newlines():
    line = audit.format_line("rollback", {"type": "image", "reason": "a\nb \"c\" 演练"},
                             now=dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    assert line.count("\n") == 1 and line.endswith("\n")
    assert line.startswith("2025-01-02T03:04:05+00:00 rollback type=image reason=")
    assert "演练" in line


def test_audit_value_with_a_trailing_newline_is_quoted():
    # no space in it: only the trailing "\n" makes it unsafe (`$` matched before it)
    line = audit.format_line("rollback", {"reason": "x\n", "type": "image"},
                             now=dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    assert line.count("\n") == 1 and line.endswith(" type=image\n")
    assert 'reason="x\\n"' in line


def test_invalid_webhook_url_is_an_answer_not_an_exception_naming_the_token():
    resp = web.request("POST", "http://127.0.0.1:1/hooks/tok-s3cr3t-xyz x", b"{}", timeout=1)
    assert resp.status == 0 and resp.error and "tok-s3cr3t-xyz" not in resp.error


def test_alert_payload_is_utf8_json_with_timestamp():
    bad = b"\xff\xfe x".decode("utf-8", "surrogateescape")  # what argv gives for invalid bytes
    body = alert.payload("system-alert", "deployment", "critical", "紧急回滚执行", bad)
    data = json.loads(body.decode("utf-8"))
    assert data["title"] == "紧急回滚执行" and data["message"].endswith(" x")
    assert set(data) >= {"event", "component", "severity", "title", "message", "timestamp"}
    dt.datetime.fromisoformat(data["timestamp"])


def test_spec_keeps_what_was_set_for_the_container_not_the_image():
    class FakeImages:
        def get(self, _id):
            return type("I", (), {"attrs": {"Config": {"Env": ["PATH=/bin", "AURA_VERSION=v2.0.0"],
                                                       "Labels": {"aura.version": "v2.0.0"},
                                                       "Cmd": ["python3", "app.py"]}}})()

    class FakeContainer:
        name = "aura-api-v1"
        attrs: ClassVar[dict] = {"Name": "/aura-api-v1", "Image": "sha256:abc",
                                "Config": {"Image": "aura-api:v2.0.0", "Cmd": ["python3", "app.py"],
                                           "Env": ["PATH=/bin", "AURA_VERSION=v2.0.0", "AURA_POOL=api_v1",
                                                   "HOSTNAME=box", "container=podman"],
                                           "Labels": {"aura.version": "v2.0.0", "aura.pool": "api_v1"}},
                                "HostConfig": {"NetworkMode": "host", "RestartPolicy": {"Name": "unless-stopped"},
                                               "Ulimits": [{"Name": "RLIMIT_NOFILE"}]}}

    client = type("C", (), {"images": FakeImages(),
                            "version": lambda self: {"Components": [{"Name": "Podman Engine"}]}})()
    spec = engine.spec_of(client, FakeContainer())
    assert spec.name == "aura-api-v1"
    assert spec.body["Env"] == ["AURA_POOL=api_v1"]  # the old image's version and Podman's own must not stick
    assert spec.body["Labels"] == {"aura.pool": "api_v1"}
    assert spec.body["HostConfig"]["NetworkMode"] == "host"
    assert spec.body["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert "Cmd" not in spec.body and "Image" not in spec.body  # the new image brings its own
    assert spec.body["HostConfig"]["Ulimits"] == [{"Name": "nofile"}]  # carried, named as Podman's create wants


def test_nginx_start_command_is_test_command_without_t(tmp_path):
    from sandbox.auraflow.tools.nginx import Nginx

    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('[target]\nbase_url = "http://127.0.0.1:9"\n[nginx]\nconf = "/x/n.conf"\n'
                        'upstream_include = "/x/u.conf"\ntest_cmd = "/usr/sbin/nginx -t -c /x/n.conf -p /x"\n'
                        'reload_cmd = "/usr/sbin/nginx -s reload -c /x/n.conf -p /x"\n')
    n = Nginx(Config.load(cfg_file))
    assert n.start_argv == ["/usr/sbin/nginx", "-c", "/x/n.conf", "-p", "/x"]




def test_nginx_write_through_a_symlink_replaces_its_target_and_keeps_the_link_and_mode(tmp_path):
    from sandbox.auraflow.tools.nginx import write_atomic

    versioned, link = tmp_path / "nginx.conf.v7", tmp_path / "nginx.conf"
    versioned.write_bytes(b"old\n")
    versioned.chmod(0o640)
    link.symlink_to(versioned.name)
    write_atomic(link, b"new\n")
    assert link.is_symlink() and link.readlink() == type(link)(versioned.name)
    assert versioned.read_bytes() == b"new\n" and (versioned.stat().st_mode & 0o777) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nginx.conf", "nginx.conf.v7"]  # no temporary left
