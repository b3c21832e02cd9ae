"""`[front] forward` without a network: which endpoint becomes which socket and URL, the run's HTTP
routed by address, the one-line refusals, and the config rules. (The tunnels themselves are
tests/sandbox/test_front_forwards.py's, against the hosts layout's sshd.)"""
from __future__ import annotations

import httpx
import pytest
from psycopg.conninfo import conninfo_to_dict

from helpers.config import ConfigError, load_config
from helpers.front.forwards import (
    Forward,
    ForwardError,
    forward_line,
    open_forwards,
    plan_forwards,
    reached_config,
    upstream_sockets,
)
from helpers.http_clients import HttpClients
from tests.unit.test_config import target, write  # noqa: F401 - the complete config fixture

pytestmark = pytest.mark.unit

FOLDER = "/tmp/aura-ssh-k2j4"
PASSWORD = "Zq8-unit-pw"  # the fixture's database password


@pytest.fixture
def forwarded(tmp_path, target):  # noqa: F811
    """The unit config with an SSH front that forwards all three endpoints; the engine on TCP."""
    known = tmp_path / "known_hosts"
    known.write_text("")
    target["front"] = {"ssh": "deploy@front.example:2222", "known_hosts": str(known),
                       "forward": ["database", "docker", "upstreams"]}
    target["docker"]["url"] = "tcp://10.0.0.7:2375"
    target["database"]["url"] = f"postgresql://aura:{PASSWORD}@10.0.0.5:5433/aura?sslmode=prefer&application_name=x"
    return target


def test_each_endpoint_becomes_its_own_socket_in_the_runs_folder(tmp_path, forwarded):
    cfg = load_config(write(tmp_path, "drill.toml", forwarded))
    assert plan_forwards(cfg, FOLDER) == [
        Forward("database", "10.0.0.5:5433", f"{FOLDER}/.s.PGSQL.5433"),   # libpq's own socket name
        Forward("docker", "10.0.0.7:2375", f"{FOLDER}/docker.sock"),
        Forward("upstreams api_v1", "127.0.0.1:18081", f"{FOLDER}/upstream-api_v1.sock"),
        Forward("upstreams api_v2", "127.0.0.1:18082", f"{FOLDER}/upstream-api_v2.sock"),
    ]


def test_only_the_endpoints_named_are_forwarded(tmp_path, forwarded):
    forwarded["front"]["forward"] = ["upstreams"]
    cfg = load_config(write(tmp_path, "drill.toml", forwarded))
    forwards = plan_forwards(cfg, FOLDER)
    assert [f.endpoint for f in forwards] == ["upstreams api_v1", "upstreams api_v2"]
    assert reached_config(cfg, forwards) is cfg  # the database and the engine as written


def test_the_reached_config_names_the_sockets_and_keeps_everything_else(tmp_path, forwarded):
    cfg = load_config(write(tmp_path, "drill.toml", forwarded))
    reached = reached_config(cfg, plan_forwards(cfg, FOLDER))
    # libpq: host=<folder> and port=<the staging's port> finds <folder>/.s.PGSQL.5433
    params = conninfo_to_dict(reached.database.url)
    assert params == {"user": "aura", "password": PASSWORD, "dbname": "aura", "host": FOLDER, "port": "5433",
                      "sslmode": "prefer", "application_name": "x"}
    assert reached.docker.url == f"unix://{FOLDER}/docker.sock"
    # the upstreams keep their addresses: the include names them, the active pool is read by them
    assert reached.upstreams == cfg.upstreams
    assert reached.database.password == PASSWORD and reached.secrets() == cfg.secrets()
    assert (reached.target, reached.nginx, reached.front) == (cfg.target, cfg.nginx, cfg.front)
    assert cfg.database.url.startswith("postgresql://aura:") and "10.0.0.5:5433" in cfg.database.url  # unchanged


def test_a_unix_engine_and_a_database_on_a_socket_folder_are_forwarded_to_their_paths(tmp_path, forwarded):
    forwarded["docker"]["url"] = "unix:///run/podman/podman.sock"
    forwarded["database"]["url"] = "postgresql://aura@/aura?host=/var/run/postgresql&port=5432"
    cfg = load_config(write(tmp_path, "drill.toml", forwarded))
    by_endpoint = {f.endpoint: f for f in plan_forwards(cfg, FOLDER)}
    assert by_endpoint["docker"].far == "/run/podman/podman.sock" and by_endpoint["docker"].far_tcp is None
    assert by_endpoint["database"].far == "/var/run/postgresql/.s.PGSQL.5432"
    reached = reached_config(cfg, list(by_endpoint.values()))
    assert conninfo_to_dict(reached.database.url) == {"user": "aura", "dbname": "aura", "host": FOLDER, "port": "5432"}


def test_an_ipv6_endpoint_keeps_its_brackets_for_ssh(tmp_path, forwarded):
    forwarded["database"]["url"] = "postgresql://aura@[fd00::5]:5432/aura"
    cfg = load_config(write(tmp_path, "drill.toml", forwarded))
    database = plan_forwards(cfg, FOLDER)[0]
    assert database.far == "[fd00::5]:5432" and database.far_tcp == ("fd00::5", 5432)


def test_upstream_sockets_map_each_address_to_its_socket(tmp_path, forwarded):
    cfg = load_config(write(tmp_path, "drill.toml", forwarded))
    assert upstream_sockets(cfg, plan_forwards(cfg, FOLDER)) == {
        "127.0.0.1:18081": f"{FOLDER}/upstream-api_v1.sock", "127.0.0.1:18082": f"{FOLDER}/upstream-api_v2.sock"}


def test_the_runs_http_goes_through_an_upstreams_socket_and_nowhere_else():
    """httpx's mounts route by scheme, host and port: each upstream address to its socket's
    transport, every other URL (the front, another port) to the run's usual one."""
    def through(path: str) -> httpx.BaseTransport:
        return httpx.MockTransport(lambda request: httpx.Response(200, text=f"via {path}"))

    http = HttpClients(transport=httpx.MockTransport(lambda request: httpx.Response(200, text="direct")),
                       unix_sockets={"127.0.0.1:18081": f"{FOLDER}/upstream-api_v1.sock"}, socket_transport=through)
    assert http.get("http://127.0.0.1:18081/healthz", timeout=1).text == f"via {FOLDER}/upstream-api_v1.sock"
    assert http.get("http://127.0.0.1:18082/healthz", timeout=1).text == "direct"
    assert http.get("http://127.0.0.1:18080/healthz", timeout=1).text == "direct"
    assert HttpClients(transport=httpx.MockTransport(lambda request: httpx.Response(200, text="direct"))).get(
        "http://127.0.0.1:18081/healthz", timeout=1).text == "direct"


def test_a_refusal_is_one_line_naming_the_endpoint_and_the_route():
    line = forward_line(Forward("database", "127.0.0.1:5432", f"{FOLDER}/.s.PGSQL.5432"), "root@front:22",
                        "ssh: stdio forwarding failed\n(connect failed: Connection refused)")
    assert line == ("[front] forward database: 127.0.0.1:5432 through root@front:22: "
                    "ssh: stdio forwarding failed (connect failed: Connection refused)")


@pytest.mark.parametrize("url, says", [
    ("postgresql://aura:Zq8-unit-pw@/aura", "[front] forward database: [database] url names no host"),
    ("postgresql://aura:Zq8-unit-pw@/aura?host=h1,h2", "[front] forward database: [database] url names several"),
])
def test_a_database_url_a_forward_cannot_reach_is_one_line_without_its_password(tmp_path, forwarded, url, says):
    forwarded["database"]["url"] = url
    cfg = load_config(write(tmp_path, "drill.toml", forwarded))
    with pytest.raises(ForwardError) as e:
        plan_forwards(cfg, FOLDER)
    assert str(e.value).startswith(says) and "\n" not in str(e.value) and PASSWORD not in str(e.value)


class _UnusedFront:
    """open_forwards' refusals that come before any SSH: a front that must never be asked."""
    where = "deploy@front.example:2222"

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def forward(self, socket_path: str, far: str) -> None:
        raise AssertionError("no forward may open")

    def reach(self, far: str, timeout_s: float) -> str | None:
        raise AssertionError("nothing may be asked of the front")


def test_an_engine_that_wants_tls_is_refused_before_any_tunnel(tmp_path, forwarded, monkeypatch):
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    cfg = load_config(write(tmp_path, "drill.toml", forwarded))
    with pytest.raises(ForwardError) as e:
        open_forwards(_UnusedFront(FOLDER), cfg)
    assert str(e.value).startswith("[front] forward docker: 10.0.0.7:2375 through deploy@front.example:2222: "
                                   "the engine wants TLS")


def test_a_socket_path_too_long_for_a_unix_socket_is_refused_before_any_tunnel(tmp_path, forwarded):
    cfg = load_config(write(tmp_path, "drill.toml", forwarded))
    with pytest.raises(ForwardError) as e:
        open_forwards(_UnusedFront("/tmp/" + "d" * 100), cfg)
    assert str(e.value).startswith("[front] forward database: 10.0.0.5:5433 through deploy@front.example:2222: "
                                   "the socket path ")


@pytest.mark.parametrize("keys, line", [
    ({"forward": ["database"]}, "[front] ssh: missing: forward is for an SSH front host"),
    ({"ssh": "root@h", "known_hosts": "KNOWN", "forward": ["engine"]},
     '[front] forward: "engine" is not one of "database" | "docker" | "upstreams"'),
    ({"ssh": "root@h", "known_hosts": "KNOWN", "forward": "database"}, "[front] forward: "),
])
def test_bad_forward_keys_are_one_line_naming_the_key(tmp_path, target, keys, line):  # noqa: F811
    known = tmp_path / "known_hosts"
    known.write_text("")
    target["front"] = {k: (str(known) if v == "KNOWN" else v) for k, v in keys.items()}
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "drill.toml", target))
    assert any(p.startswith(line) for p in e.value.problems), e.value.problems


def test_the_hosts_layouts_sshd_allows_local_forwards_of_both_kinds_and_nothing_remote(monkeypatch):
    from sandbox.front_host import sshd_config
    from sandbox.layout import Layout

    monkeypatch.setenv("AURA_SANDBOX_PORT_BASE", "31000")
    lines = sshd_config(Layout.from_env()).splitlines()
    assert "AllowTcpForwarding local" in lines and "AllowStreamLocalForwarding local" in lines
    # PermitOpen would refuse every socket path (it names host:port only, and applies to both)
    assert not any(line.startswith("PermitOpen") for line in lines)
    assert not any(line.startswith(("GatewayPorts yes", "AllowTcpForwarding yes", "PermitListen")) for line in lines)
