"""The sandbox's compose project as written, and the runbook's tag edit (no engine: the files only;
the project is deployed and drilled on both engines in tests/drills/test_both_engines.py)."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from sandbox import compose_project
from sandbox.auraflow.tools import compose as runbook_compose
from sandbox.auraflow.tools.config import Config
from sandbox.containers import POOLS
from sandbox.layout import Layout, Ports

pytestmark = pytest.mark.sandbox

# At least eight kinds of a real service's settings, by their compose spec keys.
REAL_SERVICE_KEYS = ("entrypoint", "command", "working_dir", "user", "environment", "labels", "read_only",
                     "tmpfs", "volumes", "cap_drop", "security_opt", "ulimits", "pids_limit", "mem_limit", "cpus",
                     "oom_score_adj", "stop_signal", "stop_grace_period", "logging", "restart", "healthcheck")


def _layout(tmp_path: Path) -> Layout:
    return Layout(state=tmp_path, ports=Ports.from_base(18080), container_prefix="aura-api")


def test_each_service_keeps_its_container_name_on_host_networking_with_a_real_services_settings(tmp_path):
    text = compose_project.compose_text(_layout(tmp_path))
    blocks = re.split(r"^  (?=api_v\d:$)", text.split("\nvolumes:\n")[0], flags=re.M)[1:]
    assert [b.splitlines()[0] for b in blocks] == [f"{pool}:" for pool in POOLS]
    for block, pool in zip(blocks, POOLS, strict=True):
        keys = {m for m in re.findall(r"^    ([a-z_]+):", block, re.M)}
        assert set(REAL_SERVICE_KEYS) <= keys, set(REAL_SERVICE_KEYS) - keys
        assert f"container_name: {_layout(tmp_path).container_name(pool)}" in block
        assert "network_mode: host" in block and f"${{{compose_project.tag_variable(pool)}}}" in block
        assert "env_file" not in keys  # compose#14001: config --hash would never match the label
    # never a wait on healthchecks Podman does not run here
    assert "service_healthy" not in text and "depends_on" not in text


def test_the_env_file_holds_each_tag_and_no_secret(tmp_path):
    layout = _layout(tmp_path)
    paths = compose_project.write_files(layout, "aura-api", "postgresql://aura:Zq8-secret@127.0.0.1:1/aura")
    env = paths["env"].read_text()
    assert env == "AURA_IMAGE=aura-api\nAPI_V1_TAG=v1.0.0\nAPI_V2_TAG=v2.0.0\n"
    assert "Zq8-secret" not in paths["compose"].read_text() + env
    assert paths["secret"].stat().st_mode & 0o777 == 0o640
    assert compose_project.write_files(layout, "aura-api", "postgresql://x")["compose"].read_text() == \
        paths["compose"].read_text()  # the same bytes every `up`: the snapshot's digest holds


def test_the_runbooks_tag_edit_changes_only_that_services_line(tmp_path):
    layout = _layout(tmp_path)
    paths = compose_project.write_files(layout, "aura-api", "postgresql://x")
    section = compose_project.config_section(layout, ["/usr/bin/docker", "compose"], "unix:///x.sock")
    toml = tmp_path / "target.toml"
    toml.write_text("[compose]\n" + "".join(f'{k} = {v!r}\n'.replace("'", '"') for k, v in section.items()
                                            if k != "files") + f'files = ["{section["files"][0]}"]\n')
    cfg = Config(toml, tomllib.loads(toml.read_text()))
    assert runbook_compose.set_tag(cfg, "api_v1", "v1.1.0") == "v1.0.0"
    assert paths["env"].read_text() == "AURA_IMAGE=aura-api\nAPI_V1_TAG=v1.1.0\nAPI_V2_TAG=v2.0.0\n"
    argv = runbook_compose.argv(cfg, "up", "-d", "api_v1")
    assert argv[:3] == ["/usr/bin/env", "DOCKER_HOST=unix:///x.sock", "/usr/bin/docker"]
    assert argv[-3:] == ["up", "-d", "api_v1"] and ["--env-file", str(paths["env"])] == argv[8:10]
