"""docs/config.schema.json: current, printed by `python -m helpers.config schema`, and in agreement
with the loader on one table of good and bad files (a real JSON Schema validator, `jsonschema`)."""
from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import jsonschema
import pytest

from helpers.config import ConfigError, load_config
from helpers.config.schema import schema_text

# a test of the two halves may read both; the suite never imports sandbox/
from sandbox import compose_project, config_file
from sandbox.layout import Layout, Ports
from tests.unit.test_config import EXAMPLE, SCHEMA_FILE, target, to_toml  # noqa: F401 - the config fixture

pytestmark = pytest.mark.unit

PROJECT = EXAMPLE.parents[1]
PYDANTIC_WORDS = ("validation error", "Input should", "type=", "errors.pydantic.dev")


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_committed_schema_is_current():
    assert SCHEMA_FILE.read_text() == schema_text(), (
        "docs/config.schema.json is stale: python -m helpers.config schema > docs/config.schema.json")


def test_the_command_prints_the_schema_and_nothing_else():
    r = subprocess.run([sys.executable, "-m", "helpers.config", "schema"], cwd=PROJECT, capture_output=True,
                       text=True, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, SCHEMA_FILE.read_text(), "")
    wrong = subprocess.run([sys.executable, "-m", "helpers.config"], cwd=PROJECT, capture_output=True, text=True,
                           timeout=60)
    assert wrong.returncode != 0 and wrong.stdout == "" and "usage:" in wrong.stderr


@pytest.mark.parametrize("example", sorted(p.name for p in PROJECT.glob("docs/*.toml")))
def test_every_example_validates(validator, example):
    validator.validate(tomllib.loads((PROJECT / "docs" / example).read_text()))


def test_the_schema_has_no_pattern_a_reference_could_not_pass():
    """Before interpolation any string may be a `${…}`: the only pattern is the one that lets a
    reference stand for a fixed choice."""
    patterns = {line.strip() for line in SCHEMA_FILE.read_text().splitlines() if '"pattern"' in line}
    assert patterns == {r'"pattern": "\\$\\{"'}


# -- one table through both -------------------------------------------------------------------
def _edit(**changes):
    """A mutation of the complete config: {"section.key": value}, None deletes, "section": None
    deletes the section, "extends": value adds the top-level key."""
    def mutate(data: dict) -> dict:
        for where, value in changes.items():
            section, _, key = where.partition(".")
            if not key and value is None:
                del data[section]
            elif not key:
                data[section] = value
            elif value is None:
                data[section].pop(key)
            else:
                data.setdefault(section, {})[key] = value
        return data
    return mutate


def _overlay(sections: dict):
    return lambda data: sections


# (name, the file, is it an overlay of the complete config, loader accepts, schema accepts)
CASES = [
    ("complete", _edit(), True, True),
    ("complete with optional sections", _edit(**{"rto": {"image": 5}, "report.language": "zh"}), True, True),
    ("a choice from the environment", _edit(**{"target.environment": "${DRILL_ENV:-staging}"}), True, True),
    ("a password from the environment", _edit(**{"database.url": "postgresql://aura:${PGPW:-x}@db/aura"}), True, True),
    ("overlay", _overlay({"extends": "sandbox", "rto": {"upstream": 5}}), True, True),
    ("overlay of nothing", _overlay({"extends": "sandbox"}), True, True),
    ("unknown key", _edit(**{"target.nmae": "x"}), False, False),
    ("unknown section", _edit(**{"extra": {"a": 1}}), False, False),
    ("unknown key in an overlay", _overlay({"extends": "sandbox", "probe": {"intervall_ms": 5}}), False, False),
    ("wrong type", _edit(**{"probe": {"interval_ms": "50"}}), False, False),
    ("wrong type in an overlay", _overlay({"extends": "sandbox", "rto": {"image": "5m"}}), False, False),
    ("a boolean for an integer", _edit(**{"probe": {"healthy_streak": True}}), False, False),
    ("missing key", _edit(**{"commands.migrate": None}), False, False),
    ("missing section", _edit(database=None), False, False),
    ("out of range", _edit(**{"probe": {"interval_ms": 0}}), False, False),
    ("not a choice", _edit(**{"report": {"language": "fr"}}), False, False),
    ("empty string", _edit(**{"target.name": ""}), False, False),
    ("no releases", _edit(releases={}), False, False),
    ("a section that is not a table", _edit(rto=5), False, False),
    ("extends with [target]", _edit(extends="sandbox"), False, False),
    ("an overlay without extends", _overlay({"rto": {"upstream": 5}}), False, False),
    ("extends another base", _overlay({"extends": "staging", "rto": {"upstream": 5}}), False, False),
    # What needs the machine, or a form the schema leaves open because a ${…} may fill it:
    ("a command that is not executable", _edit(**{"commands.rollback": "/x/y --yes"}), False, True),
    ("an nginx file that does not exist", _edit(**{"nginx.conf": "/nonexistent/nginx.conf"}), False, True),
    ("a URL that is not one", _edit(**{"target.base_url": "localhost:18080"}), False, True),
]


@pytest.mark.parametrize("mutate, loader_ok, schema_ok", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_loader_and_schema_agree(tmp_path, target, validator, mutate, loader_ok, schema_ok):  # noqa: F811
    base = tmp_path / "base.toml"
    base.write_text(to_toml(target))
    data = mutate(json.loads(json.dumps(target)))
    path = tmp_path / "drill.toml"
    path.write_text(to_toml(data))
    assert validator.is_valid(tomllib.loads(path.read_text())) == schema_ok
    try:
        load_config(path, base=base, register_secrets=False)
    except ConfigError as e:
        assert not loader_ok, e.problems
        assert all("\n" not in p and not any(w in p for w in PYDANTIC_WORDS) for p in e.problems), e.problems
        assert all(p.endswith(f"(in {path})") for p in e.problems if p.startswith("[")), e.problems
    else:
        assert loader_ok, "the loader accepted it"


UNSET_BY_SANDBOX = {("commands", "perf_smoke")}  # unset is its behaviour: the built-in smoke


def test_the_sandbox_writes_every_key_of_the_schema(validator, tmp_path):
    """The sandbox writes its config with its own code (sandbox/config_file.py); what pins its keys
    to the suite's is the schema file, which is data: every section but [front] (the hosts layout's),
    every key. The config a running `sandbox up` wrote is checked in tests/drills."""
    layout = Layout(state=tmp_path, ports=Ports.from_base(18080), container_prefix="aura-api")
    compose = compose_project.config_section(layout, ["/usr/bin/docker", "compose"], "unix:///x/podman.sock")
    sections = config_file.build(layout, docker_url="unix:///x/podman.sock", image_repository="aura-api",
                                 database_url="postgresql://aura:pw@127.0.0.1:18084/aura", nginx_bin="/usr/sbin/nginx",
                                 compose=compose, api_token="api-unit-token", ca_file=tmp_path / "tls" / "ca.pem")
    written = tomllib.loads(config_file.dumps(sections))
    validator.validate(written)
    defs = json.loads(SCHEMA_FILE.read_text())["$defs"]
    properties = defs["CompleteConfig"]["properties"]
    assert set(written) == set(properties) - {"front"}
    assert set(written["compose"]) == set(defs["ComposeSection"]["properties"])
    for section, prop in properties.items():
        if "$ref" in prop and section != "front":
            unset = {key for where, key in UNSET_BY_SANDBOX if where == section}
            assert set(written[section]) == set(defs[prop["$ref"].rsplit("/", 1)[1]]["properties"]) - unset, section


def test_every_key_has_its_readme_line():
    """Adding a key is one Field and one README line: this test asks for the line."""
    readme = (PROJECT / "README.md").read_text()
    defs = json.loads(SCHEMA_FILE.read_text())["$defs"]
    lines = []
    for section, prop in defs["CompleteConfig"]["properties"].items():
        keys = defs[prop["$ref"].rsplit("/", 1)[1]]["properties"] if "$ref" in prop else ['"TAG"']
        lines += [f"[{section}] {key}" for key in keys]
    assert [line for line in lines if f"| `{line}` |" not in readme] == []
    assert "#:schema ./docs/config.schema.json" in readme
