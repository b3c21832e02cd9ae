"""A team commits its config and keeps only its secrets in CI: a real drill run whose `[database]
url` password comes only from `${…}` passes, and the password is in nothing the run wrote."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jsonschema
import pytest

from tests.drills.suite_runner import FAST, PROJECT, run_suite, sandbox_at_baseline, suite_state_dir, toml_file

pytestmark = pytest.mark.e2e

VARIABLE = "AURA_DRILL_TEST_DB_PASSWORD"


def files_holding(needles: set[bytes], *folders: Path) -> list[str]:
    return [str(p) for folder in folders if folder.is_dir() for p in sorted(folder.rglob("*"))
            if p.is_file() and any(n in p.read_bytes() for n in needles)]


def test_the_config_sandbox_up_wrote_validates(main_sandbox):
    schema = json.loads((PROJECT / "docs" / "config.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(tomllib.loads(main_sandbox.read_text()))


def test_a_database_password_from_the_environment_reaches_no_output(tmp_path, main_sandbox):
    cfg = tomllib.loads(main_sandbox.read_text())  # complete: it has [target]
    url = cfg["database"]["url"]
    written = urlsplit(url).password
    assert written and len(written) >= 8, "the sandbox's password is too short to search for"
    cfg["database"]["url"] = url.replace(f":{written}@", f":${{{VARIABLE}}}@", 1)
    config = toml_file(tmp_path / "committed.toml", {**cfg, **FAST})
    assert written not in config.read_text()

    run = run_suite("--drill-config", str(config), "-k", "upstream", env={VARIABLE: written})

    assert run.exit_code == 0, run.output[-3000:]
    assert [d["status"] for d in run.results["drills"]] == ["passed"], run.output[-3000:]
    needles = {written.encode(), unquote(written).encode()}
    assert not any(n in run.output.encode() for n in needles), "the password is in the run's output"
    assert files_holding(needles, run.reports, suite_state_dir(), tmp_path) == []
    assert sandbox_at_baseline()[0]
