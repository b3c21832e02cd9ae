"""[front], [database] primary_key and [rpo]: the schema, the local transport, the pure parsers."""
from __future__ import annotations

import json
import os
import stat

import httpx
import pytest

from helpers.config import ConfigError, load_config, rpo_body
from helpers.front import LocalFront, open_front
from helpers.host_checks import parse_proc_list, parse_proc_net_tcp
from helpers.http_clients import HttpClients
from helpers.rpo import Ack, OrderWriter, compare
from tests.unit.test_config import target, write  # noqa: F401 - the complete config fixture

pytestmark = pytest.mark.unit


def test_defaults_keep_the_single_host_behaviour(tmp_path, target):  # noqa: F811
    cfg = load_config(write(tmp_path, "drill.toml", target))
    assert not cfg.front.remote and isinstance(open_front(cfg.front), LocalFront)
    assert cfg.database.primary_key == "id"
    assert (cfg.rpo.enabled, cfg.rpo.path, cfg.rpo.id_field) == (True, "/api/orders", "id")
    assert rpo_body(cfg.rpo.body, 7, "r1") == {"item": "drill-r1-7", "quantity": 7}


def test_front_makes_the_nginx_paths_the_front_hosts(tmp_path, target):  # noqa: F811
    # None of these exists on the runner: with [front] only their form is checked here.
    known = tmp_path / "known_hosts"
    known.write_text("")
    target["nginx"] = {"conf": "/etc/aura-front/nginx.conf", "backup": "/etc/aura-front/nginx.conf.backup",
                       "upstream_include": "/etc/aura-front/upstream.conf",
                       "test_cmd": "/usr/sbin/nginx -t -c /etc/aura-front/nginx.conf",
                       "reload_cmd": "/usr/sbin/nginx -s reload", "error_log": "/etc/aura-front/error.log"}
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "local.toml", target))
    assert "[nginx] conf: /etc/aura-front/nginx.conf does not exist" in str(e.value)
    target["front"] = {"ssh": "deploy@front.example:2222", "known_hosts": str(known)}
    cfg = load_config(write(tmp_path, "remote.toml", target))
    assert cfg.front.remote and cfg.front.parts() == ("deploy", "front.example", 2222)
    assert str(cfg.nginx.conf) == "/etc/aura-front/nginx.conf"


@pytest.mark.parametrize("front, line", [
    ({"ssh": "a b"}, "[front] ssh: \"a b\" is not \"user@host:port\""),
    ({"ssh": "root@h:99999", "known_hosts": "KNOWN"}, "[front] ssh:"),
    ({"ssh": "root@h:22"}, "[front] known_hosts: missing (required with ssh"),
    ({"ssh": "root@h", "known_hosts": "/nope/known_hosts"}, "[front] known_hosts: /nope/known_hosts does not exist"),
    ({"ssh": "root@h", "known_hosts": "KNOWN", "identity_file": "/nope/id"},
     "[front] identity_file: /nope/id does not exist"),
    ({"known_hosts": "KNOWN"}, "[front] ssh: missing"),
    ({"sssh": "root@h"}, "[front] sssh: unknown key"),
])
def test_bad_front_keys_are_one_line_naming_the_key(tmp_path, target, front, line):  # noqa: F811
    known = tmp_path / "known_hosts"
    known.write_text("")
    target["front"] = {k: (str(known) if v == "KNOWN" else v) for k, v in front.items()}
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "drill.toml", target))
    assert any(p.startswith(line) for p in e.value.problems), e.value.problems


@pytest.mark.parametrize("rpo, line", [
    ({"body": '{"item": "x"}'}, "[rpo] body: has no {n} placeholder"),
    ({"body": '{"item": {n}'}, "[rpo] body: not JSON"),
    ({"body": "[{n}]"}, "[rpo] body: must be a JSON object"),
    ({"path": "api/orders"}, "[rpo] path:"),
    ({"enabled": "no"}, "[rpo] enabled: expected a boolean"),
])
def test_bad_rpo_keys(tmp_path, target, rpo, line):  # noqa: F811
    target["rpo"] = rpo
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "drill.toml", target))
    assert any(p.startswith(line) for p in e.value.problems), e.value.problems


def test_primary_key_must_be_a_column_name(tmp_path, target):  # noqa: F811
    target["database"]["primary_key"] = "order id"
    with pytest.raises(ConfigError, match=r"\[database\] primary_key"):
        load_config(write(tmp_path, "drill.toml", target))
    target["database"]["primary_key"] = "order_no"
    assert load_config(write(tmp_path, "ok.toml", target)).database.primary_key == "order_no"


def test_local_front_reads_hashes_and_writes_atomically_keeping_the_mode(tmp_path):
    front = LocalFront()
    live = tmp_path / "nginx.conf"
    live.write_text("events {}\n")
    live.chmod(0o640)
    assert front.sha256(tmp_path / "missing") is None and not front.exists(tmp_path / "missing")
    front.write_bytes(live, b"changed\n")
    assert live.read_bytes() == b"changed\n" and stat.S_IMODE(live.stat().st_mode) == 0o640
    assert front.sha256(live).startswith("sha256:") and front.read_text(live) == "changed\n"
    assert os.listdir(tmp_path) == ["nginx.conf"]  # no temporary left beside it
    with pytest.raises(FileNotFoundError):
        front.read_bytes(tmp_path / "missing")


def test_local_front_writes_through_a_symlink_to_its_versioned_and_keeps_the_link(tmp_path):
    # A team that links nginx.conf to a versioned file keeps the link after a fault and a restore.
    versions = tmp_path / "releases"
    versions.mkdir()
    versioned = versions / "nginx.conf.v7"
    versioned.write_text("events {}\n")
    versioned.chmod(0o604)
    link = tmp_path / "nginx.conf"
    link.symlink_to(versioned)
    LocalFront().write_bytes(link, b"faulted\n")
    assert link.is_symlink() and os.readlink(link) == str(versioned)
    assert versioned.read_bytes() == b"faulted\n" and stat.S_IMODE(versioned.stat().st_mode) == 0o604
    assert sorted(os.listdir(versions)) == ["nginx.conf.v7"]  # no temporary left beside it
    assert sorted(os.listdir(tmp_path)) == ["nginx.conf", "releases"]


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file to another user needs root")
def test_local_front_write_keeps_the_owner_of_a_file_that_is_not_ours(tmp_path):
    live = tmp_path / "nginx.conf"
    live.write_text("events {}\n")
    os.chown(live, 65534, 65534)
    LocalFront().write_bytes(live, b"changed\n")
    assert (live.stat().st_uid, live.stat().st_gid) == (65534, 65534) and live.read_bytes() == b"changed\n"


def test_local_front_state_is_hash_and_test_command(tmp_path, make_executable):
    conf = tmp_path / "nginx.conf"
    conf.write_text("x")
    front = LocalFront()
    assert front.state(conf, str(make_executable("ok")), 5) == (front.sha256(conf), True)
    assert front.state(tmp_path / "gone", str(make_executable("bad", "exit 1")), 5) == (None, False)
    # with the digest wanted, the test command runs only when the file is that one
    marker = tmp_path / "ran"
    probe = str(make_executable("probe", f"touch {marker}"))
    assert front.state(conf, probe, 5, want="sha256:other") == (front.sha256(conf), False)
    assert not marker.exists()
    assert front.state(conf, probe, 5, want=front.sha256(conf)) == (front.sha256(conf), True) and marker.exists()


def test_proc_net_tcp_listening_sockets():
    text = ("  sl  local_address rem_address   st\n"
            "   0: 0100007F:4B50 00000000:0000 0A 00000000:00000000\n"
            "   1: 00000000:0016 00000000:0000 0A 00000000:00000000\n"
            "   2: 0100007F:4B50 0100007F:C350 01 00000000:00000000\n")
    assert parse_proc_net_tcp(text) == {("127.0.0.1", 19280), ("0.0.0.0", 22)}
    six = ("  sl  local_address\n"
           "   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A\n"
           "   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A\n")
    assert parse_proc_net_tcp(six) == {("::", 80), ("::1", 8080)}


def test_proc_list_from_stat_and_cmdline():
    text = ("15 (nginx) S 1 15 15 0 -1\tnginx: master process /usr/sbin/nginx -c /etc/x.conf \n"
            "674 (nginx) S 15 15 15 0 -1\tnginx: worker process\n"
            "9 (a (b) c) R 2 9 9\t\n")
    procs = parse_proc_list(text)
    assert [(p.pid, p.ppid, p.comm) for p in procs] == [(15, 1, "nginx"), (674, 15, "nginx"), (9, 2, "a (b) c")]
    assert procs[0].args == "nginx: master process /usr/sbin/nginx -c /etc/x.conf"


def test_writer_uses_the_configured_request_shape():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, json.loads(request.content)))
        return httpx.Response(200, json={"purchase": {"x": 1}, "order_no": 40 + len(seen)})

    writer = OrderWriter("http://front", run_id="r", http=HttpClients(transport=httpx.MockTransport(handler)),
                         path="/shop/purchases", id_field="order_no",
                         body='{"item": "p-{run}-{n}", "quantity": {n}, "meta": {"via": "drill"}}')
    ack = writer.write_once()
    assert seen == [("/shop/purchases", {"item": "p-r-1", "quantity": 1, "meta": {"via": "drill"}})]
    assert ack is not None and ack.id == 41 and ack.compared() == {"item": "p-r-1", "quantity": 1}
    assert compare([ack], [{"order_no": 41, "item": "p-r-1", "quantity": 1}], pk="order_no").ok is False  # < 5 acks
    assert compare([ack], [{"order_no": 41, "item": "p-r-1", "quantity": 2}], pk="order_no").changed == (41,)
    assert compare([ack], [], pk="order_no").lost == (41,)


def test_writer_without_the_id_field_is_no_acknowledgement():
    mock = httpx.MockTransport(lambda r: httpx.Response(201, json={"id": 1}))
    writer = OrderWriter("http://front", http=HttpClients(transport=mock),
                         body='{"n": {n}}', id_field="order_no")
    assert writer.write_once() is None and writer.failures == 1
    assert "without 'order_no'" in writer.errors[0]


def test_default_ack_compares_item_and_quantity():
    ack = Ack(id=1, item="drill-x-1", quantity=1, sent=0.0, acked=0.1)
    assert ack.compared() == {"item": "drill-x-1", "quantity": 1}


@pytest.mark.parametrize("stderr, start", [
    ("No ED25519 host key is known for [127.0.0.1]:19285 and you have requested strict checking.\n"
     "Host key verification failed.\n", "[front] known_hosts: /k/known_hosts has no host key for [10.0.0.5]:2222"),
    ("@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.\n",
     "[front] known_hosts: the host key of [10.0.0.5]:2222 does not match /k/known_hosts"),
    ("deploy@10.0.0.5: Permission denied (publickey).\n",
     "[front] identity_file: /k/id not accepted by deploy@10.0.0.5:2222"),
    ("ssh: connect to host 10.0.0.5 port 2222: Connection refused\n", "[front] ssh: deploy@10.0.0.5:2222 unreachable"),
])
def test_ssh_failures_name_the_front_key(stderr, start, ssh_front):
    from pathlib import Path

    from helpers.front.ssh import _classify

    line = _classify(stderr, ssh_front(ssh="deploy@10.0.0.5:2222", identity_file=Path("/k/id")))
    assert line.startswith(start) and "\n" not in line, line


def test_ssh_spec_forms():
    from helpers.config import split_ssh

    assert split_ssh("front") == (None, "front", 22)
    assert split_ssh("root@[::1]:2200") == ("root", "::1", 2200)
    for bad in ("@h", "h:x", "root@[::1", "h:0"):
        with pytest.raises(ValueError):
            split_ssh(bad)


def test_writer_warmup_writes_back_to_back_then_keeps_its_interval():
    import threading
    import time

    sent: list[float] = []
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            sent.append(time.monotonic())
            return httpx.Response(201, json={"id": len(sent)})

    writer = OrderWriter("http://front", http=HttpClients(transport=httpx.MockTransport(handler)), interval_ms=200,
                         max_writes=7, warmup=5)
    start = time.monotonic()
    writer.start()
    try:
        assert writer.wait_for_acks(5, timeout_s=5)
        warm = time.monotonic() - start
        assert writer.wait_for_acks(7, timeout_s=5)
    finally:
        writer.stop()
    assert warm < 0.15, f"5 warm-up writes took {warm:.3f}s: they waited for the 0.2 s interval"
    # after the warm-up, the interval again: the 6th write waits ~0.2 s after the 5th
    assert sent[5] - sent[4] >= 0.15 and sent[6] - sent[5] >= 0.15
