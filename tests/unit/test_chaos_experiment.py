"""bench/chaos_experiment.py: the Chaos Toolkit twin of the upstream drill, built from a config.

A pure function on a small config; chaostoolkit is not needed (nor imported) here.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

BENCH = Path(__file__).resolve().parents[2] / "bench" / "chaos_experiment.py"


def _load():
    spec = importlib.util.spec_from_file_location("aura_bench_chaos_experiment", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


chaos_experiment = _load()

CONFIG = {
    "target": {"name": "tiny", "environment": "staging", "base_url": "http://127.0.0.1:9/",
               "api_url": "http://127.0.0.1:9"},
    "commands": {"switch_upstream": "/opt/x/switch.sh --config '/tmp/a b/s.toml'",
                 "rollback": "/opt/x/rollback.sh --config /tmp/s.toml"},
    "rto": {"upstream": 7},
}


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_commands_come_from_the_config_split_with_shlex_plus_the_runbooks_arguments():
    exp = chaos_experiment.build_experiment(CONFIG)
    actions = [a for a in exp["method"] if a["type"] == "action"]
    assert [a["provider"]["type"] for a in actions] == ["process", "process"]
    switch, rollback = (a["provider"] for a in actions)
    assert switch["path"] == "/opt/x/switch.sh"
    assert switch["arguments"] == ["--config", "/tmp/a b/s.toml", "--target", "api_v2"]
    assert rollback["path"] == "/opt/x/rollback.sh"
    assert rollback["arguments"] == ["--config", "/tmp/s.toml", "--type", "upstream",
                                     "--reason", "chaos benchmark", "--yes"]
    assert switch["timeout"] == rollback["timeout"] == 7.0  # [rto] upstream bounds each command
    # the method ends on a look at /status, after the rollback
    assert exp["method"][-1]["type"] == "probe"
    assert exp["method"][-1]["provider"]["url"] == "http://127.0.0.1:9/status"


def test_steady_state_is_healthz_200_and_status_on_api_v1():
    probes = chaos_experiment.build_experiment(CONFIG)["steady-state-hypothesis"]["probes"]
    by_url = {p["provider"]["url"]: p for p in probes}
    assert set(by_url) == {"http://127.0.0.1:9/healthz", "http://127.0.0.1:9/status"}
    assert by_url["http://127.0.0.1:9/healthz"]["tolerance"] == 200
    assert by_url["http://127.0.0.1:9/status"]["tolerance"] == {
        "type": "jsonpath", "path": "$.pool", "expect": "api_v1", "target": "body"}
    assert all(p["type"] == "probe" and p["provider"]["type"] == "http" for p in probes)


def test_rollbacks_section_puts_traffic_back_on_api_v1():
    rollbacks = chaos_experiment.build_experiment(CONFIG)["rollbacks"]
    assert len(rollbacks) == 1
    provider = rollbacks[0]["provider"]
    assert rollbacks[0]["type"] == "action" and provider["type"] == "process"
    assert provider["path"] == "/opt/x/switch.sh"
    assert provider["arguments"][-2:] == ["--target", "api_v1"]


def test_no_pauses_and_json_ready():
    exp = chaos_experiment.build_experiment(CONFIG)
    assert not any("pauses" in node for node in _walk(exp))
    assert json.loads(json.dumps(exp)) == exp
    assert "chaoslib" not in sys.modules and "chaostoolkit" not in sys.modules


def test_default_budget_and_a_clear_error_on_a_config_without_the_commands():
    config = {k: v for k, v in CONFIG.items() if k != "rto"}
    exp = chaos_experiment.build_experiment(config)
    assert exp["method"][0]["provider"]["timeout"] == 60.0
    with pytest.raises(ValueError, match="switch_upstream"):
        chaos_experiment.build_experiment({"target": {"base_url": "http://x"}, "commands": {}})
