"""Bad input to the suite: one clear line naming the file or key, exit 4 (pytest's usage error),
and staging exactly as it was (no sandbox started for nothing, nothing touched)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.drills.suite_runner import (
    PROJECT,
    drills_command,
    fresh_reports_dir,
    sandbox_at_baseline,
    sandbox_config_path,
    sandbox_down,
)

pytestmark = pytest.mark.e2e


def run_drills(*args: str, reports: Path | None = None) -> subprocess.CompletedProcess:
    """The suite with its outputs in `reports` (default: a fresh folder), never the project's."""
    return subprocess.run(drills_command(*args, reports=reports or fresh_reports_dir()), cwd=PROJECT,
                          capture_output=True, text=True, timeout=300)


def the_error(r: subprocess.CompletedProcess) -> str:
    lines = [line for line in (r.stdout + r.stderr).splitlines()
             if line.startswith(("ERROR:", "!")) and ("drill" in line or "config" in line)]
    assert len(lines) == 1, r.stdout[-2000:] + r.stderr[-2000:]
    return lines[0]


def test_a_missing_config_file_is_named():
    r = run_drills("--drill-config", "/nonexistent/staging.toml")
    assert r.returncode == 4
    assert "/nonexistent/staging.toml" in the_error(r)


def test_a_config_that_is_not_toml_says_where(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text("[target\n")
    r = run_drills("--drill-config", str(bad))
    assert r.returncode == 4
    assert re.search(r"broken\.toml: not valid TOML: .*line 1", the_error(r))


def test_a_config_that_is_not_utf8_is_one_line_naming_the_file(tmp_path):
    bad = tmp_path / "latin1.toml"
    bad.write_bytes('[report]\nparticipants = ["Zoë"]\n'.encode("latin-1"))
    r = run_drills("--drill-config", str(bad))
    assert r.returncode == 4
    assert "INTERNALERROR" not in r.stdout + r.stderr and "Traceback" not in r.stdout + r.stderr
    assert re.search(r"latin1\.toml: not UTF-8 text \(byte 0xeb at offset \d+\)", the_error(r))


def test_an_overlay_typo_is_refused_before_the_sandbox_is_started(tmp_path, main_sandbox):
    sandbox_down()
    typo = tmp_path / "typo.toml"
    typo.write_text('extends = "sandbox"\n[comands]\nrollback = "/bin/true"\n')
    r = run_drills("--drill-config", str(typo))
    assert r.returncode == 4
    assert "[comands]: unknown section" in the_error(r)
    running = subprocess.run([sys.executable, "-m", "sandbox", "status", "--json"], cwd=PROJECT,
                             capture_output=True, text=True)
    assert '"healthy": true' not in running.stdout.replace("\n", "").replace("  ", " ")


def test_an_overlay_without_extends_is_refused_and_touches_nothing(tmp_path, main_sandbox):
    """A staging.toml that forgot [target] must not drill the sandbox with the team's commands."""
    sandbox_down()
    forgot = tmp_path / "staging.toml"
    forgot.write_text('[commands]\nrollback = "/bin/true"\n')
    reports = fresh_reports_dir()
    r = run_drills("--drill-config", str(forgot), reports=reports)
    assert r.returncode == 4 and "Traceback" not in r.stdout + r.stderr
    line = the_error(r)
    assert f"{forgot}: has no [target]: add [target]" in line and 'extends = "sandbox"' in line, line
    assert list(reports.iterdir()) == []
    running = subprocess.run([sys.executable, "-m", "sandbox", "status", "--json"], cwd=PROJECT,
                             capture_output=True, text=True)
    assert '"healthy": true' not in running.stdout.replace("\n", "").replace("  ", " ")


@pytest.fixture
def sandbox_up(main_sandbox) -> Path:
    return sandbox_config_path()  # up again: the typo test may have stopped it


def test_a_wrong_type_names_the_key_and_touches_nothing(tmp_path, sandbox_up):
    bad = tmp_path / "badtype.toml"
    bad.write_text('extends = "sandbox"\n[rto]\nimage = "fast"\n')
    r = run_drills("--drill-config", str(bad))
    assert r.returncode == 4
    assert '[rto] image: expected a number, got a string ("fast")' in the_error(r)
    assert sandbox_at_baseline()[0]


def test_an_unreachable_database_is_named_with_its_password_hidden(tmp_path, sandbox_up):
    cfg_text = sandbox_up.read_text()  # complete: it has [target]
    url = tomllib.loads(cfg_text)["database"]["url"]
    password = url.split(":")[2].split("@")[0]
    port = url.rsplit(":", 1)[1].split("/")[0]
    unreachable = tmp_path / "unreachable.toml"
    unreachable.write_text(cfg_text.replace(f":{port}/", ":1/"))
    r = run_drills("--drill-config", str(unreachable))
    assert r.returncode == 4
    line = the_error(r)
    assert "[database] url" in line and "unreachable" in line
    assert password not in r.stdout + r.stderr
    assert sandbox_at_baseline()[0]


def test_a_production_target_runs_only_the_emergency_drill_and_only_when_allowed(tmp_path, sandbox_up):
    production = tmp_path / "production.toml"
    production.write_text(sandbox_up.read_text().replace('environment = "staging"', 'environment = "production"'))
    reports = tmp_path / "reports"
    r = run_drills("--drill-config", str(production), reports=reports)
    results = json.loads((reports / "drill-results.json").read_text())
    assert r.returncode == 0, r.stdout[-2000:]
    assert results["target"]["environment"] == "production"
    assert {d["status"] for d in results["drills"]} == {"skipped"} and len(results["drills"]) == 7
    assert "a staging drill never runs against a production target" in r.stdout  # pytest -ra shows why
    allowed = run_drills("--drill-config", str(production), "--allow-production", "-k", "emergency or upstream",
                         reports=reports)
    results = json.loads((reports / "drill-results.json").read_text())
    by_type = {d["type"]: d["status"] for d in results["drills"]}
    assert allowed.returncode == 0, allowed.stdout[-2000:]
    assert by_type == {"emergency": "passed", "upstream": "skipped"}
    assert sandbox_at_baseline()[0]


def test_a_target_off_its_baseline_with_no_journal_is_refused_with_the_command_that_puts_it_back(sandbox_up):
    # Moved by hand, as a person might have left it: no drill's journal knows about it. The
    # sandbox's own config is complete, so no `sandbox up` repairs it before preflight looks.
    commands = tomllib.loads(sandbox_up.read_text())["commands"]
    moved = subprocess.run([*commands["switch_upstream"].split(), "--target", "api_v2"], capture_output=True,
                           text=True, timeout=60)
    assert moved.returncode == 0, moved.stderr
    r = run_drills("--drill-config", str(sandbox_up), "-k", "upstream")
    assert r.returncode == 4  # a refusal (issue 21: a failed preflight item is exit 4, no longer 1)
    [refusal] = [line for line in r.stdout.splitlines() if line.startswith("preflight: target ")]
    assert "is not at its baseline: upstream include sends traffic to api_v2, not api_v1; put back: " \
           f"{commands['switch_upstream']} --target api_v1" in refusal, refusal
    api_v2 = tomllib.loads(sandbox_up.read_text())["upstreams"]["api_v2"]
    left, status = sandbox_at_baseline()
    assert not left and f"server {api_v2};" in status  # refused, and left exactly as it was found
    back = subprocess.run([*commands["switch_upstream"].split(), "--target", "api_v1"], capture_output=True,
                          text=True, timeout=60)  # the command preflight named
    assert back.returncode == 0 and sandbox_at_baseline()[0]
