"""check_reachable against real loopback ports that refuse, a PostgreSQL URL that cannot connect
and an engine socket that does not exist: each unreachable endpoint is one line naming its key,
with the password hidden. The config is the unit tests' complete one (tests/unit/test_config.py)."""
import socket

import pytest

from helpers.config import load_config
from helpers.reachability import check_reachable
from tests.unit.test_config import target as complete_config, write  # the fixture, under this name here

pytestmark = pytest.mark.integration


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_check_reachable_names_each_unreachable_endpoint_redacted(tmp_path, complete_config):
    target = complete_config
    port = _closed_port()
    target["target"]["base_url"] = target["target"]["api_url"] = f"http://127.0.0.1:{port}"
    target["database"]["url"] = f"postgresql://aura:Zq8-unit-pw@127.0.0.1:{port}/aura"
    target["docker"]["url"] = f"unix://{tmp_path}/no-engine.sock"
    target["alert"] = {"inbox_url": f"http://127.0.0.1:{port}/alerts"}
    cfg = load_config(write(tmp_path, "drill.toml", target), register_secrets=False)
    from helpers.engine_api import Engine

    with Engine.from_config(cfg) as engine:
        problems = check_reachable(cfg, engine, timeout_s=1.0)
    keys = [p.split(":", 1)[0] for p in problems]
    assert keys == ["[target] base_url", "[target] api_url", "[alert] inbox_url",
                    "[database] url", "[docker] url"]
    assert problems[0].startswith(f"[target] base_url: http://127.0.0.1:{port}/healthz unreachable")
    assert problems[3].startswith(f"[database] url: postgresql://aura:***@127.0.0.1:{port}/aura")
    assert not any("Zq8-unit-pw" in p for p in problems)
    assert all("\n" not in p for p in problems)
