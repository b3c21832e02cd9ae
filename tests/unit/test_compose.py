"""[compose]: the section's keys, the project's command lines, the fault's override, drift."""
from __future__ import annotations

import fnmatch
import json
import shlex

import pytest

from helpers.compose import CONFIG_HASH_LABEL, OVERRIDE_NAME, Compose, drift, override_text
from helpers.config import ConfigError, load_config
from helpers.fingerprint import Fingerprint
from helpers.front import LocalFront
from tests.unit.test_config import target, write

pytestmark = pytest.mark.unit

__all__ = ["target"]


def _compose(tmp_path, **keys):
    files = [tmp_path / "docker-compose.staging.yml", tmp_path / "docker-compose.ports.yml"]
    for f in files:
        f.write_text("services: {}\n")
    return {"command": "/usr/bin/docker compose", "files": [str(f) for f in files], **keys}


def test_the_section_loads_with_its_files_in_order_and_is_optional(tmp_path, target):
    assert load_config(write(tmp_path, "raw.toml", target)).compose is None
    target["compose"] = _compose(tmp_path, project_name="staging", project_directory=str(tmp_path),
                                 env_file=str(tmp_path / ".env"))
    c = load_config(write(tmp_path, "compose.toml", target)).compose
    assert c is not None and c.command == "/usr/bin/docker compose" and c.project_name == "staging"
    assert [p.name for p in c.files] == ["docker-compose.staging.yml", "docker-compose.ports.yml"]
    assert str(c.env_file) == str(tmp_path / ".env")


@pytest.mark.parametrize("key, value, expected", [
    ("command", "docker compose", '[compose] command: first word "docker" is not an absolute path'),
    ("files", ["docker-compose.yml"], '[compose] files: "docker-compose.yml" is not an absolute path'),
    ("files", [], "[compose] files:"),
    ("env_file", ".env", '[compose] env_file: ".env" is not an absolute path'),
    ("wait", True, "[compose] wait: unknown key"),
])
def test_a_bad_key_is_one_line_naming_it(tmp_path, target, key, value, expected):
    target["compose"] = _compose(tmp_path) | {key: value}
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "compose.toml", target))
    assert "\n" not in str(e.value) and str(e.value).startswith(expected), str(e.value)


def test_each_command_line_is_the_command_then_the_project_then_its_own_arguments(tmp_path, target):
    target["compose"] = _compose(tmp_path, project_name="staging", env_file=str(tmp_path / ".env"))
    cfg = load_config(write(tmp_path, "compose.toml", target))
    assert cfg.compose is not None
    line = Compose(cfg.compose, LocalFront()).line(["up", "-d", "--no-deps", "api_v1"],
                                                   extra_files=[tmp_path / OVERRIDE_NAME])
    f1, f2 = (str(p) for p in cfg.compose.files)
    assert shlex.split(line) == ["/usr/bin/docker", "compose", "--project-name", "staging",
                                 "--env-file", str(tmp_path / ".env"), "-f", f1, "-f", f2,
                                 "-f", str(tmp_path / OVERRIDE_NAME), "up", "-d", "--no-deps", "api_v1"]


def test_the_override_is_never_a_file_compose_reads_by_itself_and_changes_only_the_image():
    assert not fnmatch.fnmatch(OVERRIDE_NAME, "*compose.override.y*ml")
    body = "\n".join(line for line in override_text("api_v1", "repo:v1.2.0-bad").splitlines()
                     if not line.startswith("#"))
    assert json.loads(body) == {"services": {"api_v1": {"image": "repo:v1.2.0-bad"}}}


def test_drift_compares_each_containers_label_with_config_hash():
    seen = drift({"v1": {CONFIG_HASH_LABEL: "aaa"}, "v2": {CONFIG_HASH_LABEL: "old"}, "v3": None, "v4": {}},
                 {"v1": "api_v1", "v2": "api_v2", "v3": "api_v3", "v4": "api_v4"},
                 {"api_v1": "aaa", "api_v2": "new", "api_v3": "x", "api_v4": "y"})
    assert seen["v1"] == "in sync" and seen["v3"] == "missing"
    assert seen["v2"] == "drift: label old vs config --hash new"
    assert seen["v4"] == "drift: label (none) vs config --hash y"


def test_a_journal_written_before_compose_reads_back_without_compose_state():
    old = {"containers": {}, "nginx_conf_sha256": None, "upstream_include_sha256": None, "active_pool": "api_v1",
           "db_revision": "0002", "rows_digest": "sha256:x", "row_count": 0}
    fp = Fingerprint.from_dict(old)
    assert (fp.compose_files, fp.compose_sync) == ({}, {})
    assert Fingerprint.from_dict(fp.to_dict()) == fp
