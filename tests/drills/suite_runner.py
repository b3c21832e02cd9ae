"""Run the real drill suite as a subprocess against the sandbox, with a partial --drill-config.

Broken rollbacks are real executables swapped in through the config's [commands], never mocks:
the suite under test cannot tell them from a real staging's scripts.
"""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from helpers.wait import Wait

PROJECT = Path(__file__).resolve().parents[2]
PROJECT_REPORTS = PROJECT / "reports"  # the project's own outputs: tests never write here
# Probe settings for the suite runs of the tests: a fast cadence and a short soak.
FAST = {"probe": {"interval_ms": 50, "healthy_streak": 3, "soak_s": 0.5}}


def reports_snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by its path relative to it."""
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def sandbox_config_path() -> Path:
    """`sandbox up` (idempotent) and the config path it prints, as the suite itself reads it."""
    r = subprocess.run([sys.executable, "-m", "sandbox", "up"], cwd=PROJECT, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return Path(r.stdout.strip().splitlines()[-1])


def sandbox_config() -> dict:
    return tomllib.loads(sandbox_config_path().read_text())


def sandbox_at_baseline() -> tuple[bool, str]:
    r = subprocess.run([sys.executable, "-m", "sandbox", "status"], cwd=PROJECT, capture_output=True, text=True,
                       timeout=60)
    return r.returncode == 0, r.stdout


def sandbox_down() -> None:
    subprocess.run([sys.executable, "-m", "sandbox", "down"], cwd=PROJECT, capture_output=True, timeout=120)


def executable(path: Path, body: str) -> str:
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


def hanging(pidfile: Path, before: str = "") -> str:
    """The body of a command that records its PID in `pidfile`, runs `before`, then hangs 60 s
    (`exec`: the recorded PID is the hanging process's)."""
    return f"echo $$ > {shlex.quote(str(pidfile))}\n{before}exec sleep 60\n"


def kill_recorded(pidfile: Path) -> None:
    """SIGKILL the command `hanging` recorded, if it still hangs: the suite starts commands in their
    own session, so a run killed mid-command leaves it behind. Exactly that PID, and only while it
    is still `sleep 60` (a PID the kernel has given to another process since is left alone)."""
    if not pidfile.exists():
        return  # never started
    pid = int(pidfile.read_text())
    try:
        running = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return  # ended already
    if running == b"sleep\x0060\x00":
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def toml_value(v: object) -> str:
    """A TOML value: JSON's form serves for strings, numbers, booleans and arrays of them, but a
    table inside a section ([http] headers) must be an inline table, `{ "k" = v }`."""
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(v)


def toml_file(path: Path, data: dict) -> Path:
    """A TOML file of top-level keys, then tables of values (every key quoted)."""
    lines = [f"{json.dumps(k)} = {toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for name, keys in ((n, t) for n, t in data.items() if isinstance(t, dict)):
        lines.append(f"[{json.dumps(name)}]")
        lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in keys.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def toml_overlay(path: Path, sections: dict[str, dict]) -> Path:
    """An overlay of the sandbox's config: `extends = "sandbox"`, then `sections` key by key."""
    return toml_file(path, {"extends": "sandbox", **sections})


@dataclass
class SuiteRun:
    exit_code: int
    output: str
    results: dict
    reports: Path  # the run's --reports-dir: drill-results.json, rollback-drill.log, drill-report.html, ...

    def drill(self, fragment: str) -> dict:
        found = [d for d in self.results["drills"] if fragment in d["id"]]
        assert len(found) == 1, f"{fragment!r} matches {[d['id'] for d in self.results['drills']]}"
        return found[0]


_REPORTS_BASE: list[Path] = []


def _scratch() -> Path:
    """One temporary folder for this test process, removed when it ends."""
    if not _REPORTS_BASE:
        _REPORTS_BASE.append(Path(tempfile.mkdtemp(prefix="aura-drill-tests-")))
        atexit.register(shutil.rmtree, _REPORTS_BASE[0], True)
    return _REPORTS_BASE[0]


def fresh_reports_dir() -> Path:
    """A new folder for one run's outputs: a test run never writes to the project's reports/."""
    return Path(tempfile.mkdtemp(prefix="run-", dir=_scratch()))


def suite_state_dir() -> Path:
    """The journals of every suite run this test process starts: one folder, shared by them (a
    killed run's journal must reach the next run), never a developer's .drill-state/."""
    return _scratch() / "drill-state"


def drills_command(*args: str, reports: Path) -> list[str]:
    return [sys.executable, "-m", "pytest", "drills/", "-m", "staging", "-p", "no:cacheprovider",
            "--reports-dir", str(reports), "--state-dir", str(suite_state_dir()), *args]


def wait_for_log(proc: subprocess.Popen, log: Path, text: str, what: str, timeout_s: float = 90,
                 interval_s: float = 0.05, also: Callable[[], bool] = lambda: True) -> None:
    """Until the run `proc` has written `text` to its drill log `log` (and `also()` holds); the run
    ending first fails at once. A timeout names `what` and the log's last line."""
    __tracebackhide__ = True

    def look() -> str:
        assert proc.poll() is None, f"{what}: the run ended first (exit {proc.returncode})"
        return log.read_text() if log.exists() else ""

    def last_line(seen: object) -> str:
        lines = str(seen).strip().splitlines()
        return repr(lines[-1]) if lines else f"nothing in {log}"

    Wait(what, timeout_s, interval_s).until(look, ready=lambda logged: text in logged and also(), seen=last_line)


def run_suite(*args: str, timeout: float = 600, reports: Path | None = None,
              env: dict[str, str] | None = None) -> SuiteRun:
    """The real suite as a subprocess; its outputs go to `reports` (default: a fresh folder);
    `env` is added to this process's environment for it alone."""
    reports = fresh_reports_dir() if reports is None else reports
    results_file = reports / "drill-results.json"
    results_file.unlink(missing_ok=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")} | (env or {})
    r = subprocess.run(drills_command(*args, reports=reports), cwd=PROJECT, capture_output=True, text=True,
                       timeout=timeout, env=environment)
    results = json.loads(results_file.read_text()) if results_file.exists() else {"drills": []}
    return SuiteRun(r.returncode, r.stdout + r.stderr, results, reports)
