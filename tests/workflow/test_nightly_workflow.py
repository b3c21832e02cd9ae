"""The nightly job, run as a hosted runner runs it (issue 14).

The steps are read from `.github/workflows/nightly-drill.yml` in order and run by
`actions_runner.JobRun`: `run:` steps as written, `uses:` steps mapped, `${{ }}` filled in — as a
non-root user with passwordless sudo (a hosted runner's `runner` user), from a fresh clone, with a
sandbox of its own (AURA_SANDBOX_STATE, _PORT_BASE, _PREFIX, _IMAGE_REPOSITORY: the runner machine's settings).
The first night must pass: the drills pass, the reports are uploaded, the history and the drill
state are saved, the RTO table reaches the summary page. The second night, on a new runner sharing
the cache, gets a broken STAGING_DRILL_CONFIG secret: it fails at once, yet restores and saves the
first night's history and state again, removes the secret's file and shows the password nowhere.
A third night takes the other route, a config committed at vars.DRILL_CONFIG_PATH with its secrets
mapped from the repository's: the key files are written 0600 under $RUNNER_TEMP/drill, the
--preflight-only step refuses the (unreachable) staging with exit 4 before any drill runs, and the
key files are gone afterwards.
Then the sudo route's promise is checked on the sandbox that user brings up: what the user's
processes read is that user's and nobody else's.

Slow (a venv and a cold sandbox for the new user: about two minutes): marker `workflow`;
`./aura tests -m workflow` runs only this.
"""
from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.sandbox_ids import cache_env, extra, runner_account
from tests.workflow.actions_runner import JobRun

pytestmark = [pytest.mark.e2e, pytest.mark.workflow]

PROJECT_DIR = Path(__file__).resolve().parents[2]
WORKFLOW = PROJECT_DIR / ".github" / "workflows" / "nightly-drill.yml"
RUNNER_USER = runner_account()  # this test's own account (per checkout): made for it, removed after it
# The "workflow" sandbox of tests/sandbox_ids.py (derived from the run's AURA_SANDBOX_*), with its
# own image repository too: a fresh clone's images must not re-tag (or be re-tagged by) the
# images of the checkout running this test, should their build hashes differ.
SANDBOX_ENV = {**extra("workflow").env(), **cache_env()}
PARTICIPANTS = "Ana Li,Bo Chen"
SECRET = "pw-n2-Secret-0xC0FFEE"
# A target config with a password and a fault: required keys missing. The night must stop with one
# line naming the problem, and the password must appear nowhere.
BROKEN_SECRET_CONFIG = f"""[target]
name = "shop-staging"
environment = "staging"
base_url = "http://127.0.0.1:9"
[database]
url = "postgresql://aura:{SECRET}@127.0.0.1:9/aura"
"""
DRILL_TYPES = {"image", "nginx", "database", "upstream", "full", "emergency"}
TEAM_CONFIG = "tests/workflow/team-staging.toml"  # committed: the vars.DRILL_CONFIG_PATH route
TEAM_SECRETS = {"STAGING_DB_PASSWORD": "pw-team-0xBADC0DE", "STAGING_API_TOKEN": "tok-team-0xFEEDFACE",
                "STAGING_SSH_KEY": "-----BEGIN OPENSSH PRIVATE KEY-----\nkey-team-0xDEADBEEF\n",
                "STAGING_KNOWN_HOSTS": "[127.0.0.1]:9 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIteam",
                "STAGING_CA_PEM": "-----BEGIN CERTIFICATE-----\nca-team-0xCAFE\n-----END CERTIFICATE-----"}


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)


def _as_user(user: str, argv: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    home = pwd.getpwnam(user).pw_dir
    base = {"HOME": home, "USER": user, "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    return _run(["runuser", "-u", user, "--", "env", "-i",
                 *[f"{k}={v}" for k, v in {**base, **env}.items()], *argv], cwd=cwd)


def _user_processes(user: str) -> list[str]:
    r = _run(["ps", "-ww", "-u", user, "-o", "pid=,args="])
    return [line.strip() for line in r.stdout.splitlines() if line.strip()]


def _purge_sandbox_as_root() -> None:
    """The runner's sandbox, gone whatever the job did (root: the user may be half made)."""
    env = {**os.environ, **SANDBOX_ENV}
    env.pop("SUDO_UID", None)
    r = _run([str(PROJECT_DIR / ".venv" / "bin" / "python"), "-m", "sandbox", "down", "--purge"],
             cwd=PROJECT_DIR, env=env)
    assert r.returncode == 0, f"sandbox down --purge of the runner's sandbox failed: {r.stderr[-500:]}"


@pytest.fixture(scope="module")
def runner_user():
    """A user like a hosted runner's: not root, passwordless sudo. Removed afterwards, with its
    home (its venv's pip cache); a leftover from a killed run is replaced."""
    if os.geteuid() != 0:
        pytest.skip("making the runner's user account needs root (the project's CI runs as root)")
    assert shutil.which("sudo"), "sudo is not installed (`./aura tests` installs it)"
    if _run(["id", "-u", RUNNER_USER]).returncode == 0:
        _run(["userdel", "-r", RUNNER_USER])
    r = _run(["useradd", "--create-home", "--shell", "/bin/bash", RUNNER_USER])
    assert r.returncode == 0, r.stderr
    sudoers = Path("/etc/sudoers.d") / RUNNER_USER
    sudoers.write_text(f"{RUNNER_USER} ALL=(ALL) NOPASSWD:ALL\n")
    sudoers.chmod(0o440)
    assert _run(["visudo", "-cf", str(sudoers)]).returncode == 0
    try:
        yield RUNNER_USER
    finally:
        sudoers.unlink(missing_ok=True)
        left = _user_processes(RUNNER_USER)
        _run(["pkill", "-KILL", "-u", RUNNER_USER])  # only so the account can go; asserted below
        r = _run(["userdel", "-r", RUNNER_USER])
        assert not left, f"processes of {RUNNER_USER} still ran after the job: {left}"
        assert r.returncode == 0, f"userdel {RUNNER_USER}: {r.stderr}"


@dataclass
class Nights:
    first: JobRun   # the embedded sandbox: passes
    second: JobRun  # the next night, with a broken STAGING_DRILL_CONFIG secret: fails at once
    third: JobRun   # vars.DRILL_CONFIG_PATH and the five secrets: refused by --preflight-only


@pytest.fixture(scope="module")
def nights(runner_user):
    """Two nights of the job on two fresh runners sharing one cache, as GitHub's cache outlives a
    runner. The runner's sandbox is purged before (a killed run's leftovers) and after."""
    _purge_sandbox_as_root()
    base = Path(tempfile.mkdtemp(prefix="aura-wf-", dir="/var/tmp"))
    base.chmod(0o755)  # the runners' folders below it are the user's; mkdtemp made it 0700
    cache = base / "cache"

    def night(n: int, secrets: dict[str, str], variables: dict[str, str] | None = None) -> JobRun:
        contexts = {"github": {"run_id": f"424{n}", "run_number": str(n), "event_name": "schedule", "event": {}},
                    "vars": {"DRILL_PARTICIPANTS": PARTICIPANTS, **(variables or {})}, "secrets": secrets}
        job = JobRun(WORKFLOW, "drill", PROJECT_DIR, base / f"night{n}", contexts, user=runner_user,
                     machine_env=SANDBOX_ENV, job_timeout_s=1200, cache_dir=cache)
        job.run()
        return job

    try:
        yield Nights(night(1, {}), night(2, {"STAGING_DRILL_CONFIG": BROKEN_SECRET_CONFIG}),
                     night(3, TEAM_SECRETS, {"DRILL_CONFIG_PATH": TEAM_CONFIG}))
    finally:
        _purge_sandbox_as_root()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def night(nights) -> JobRun:
    return nights.first


def test_the_nightly_job_passes_as_a_non_root_user_from_a_fresh_clone(night):
    failed = [r for r in night.results if not r.ok]
    assert not failed, "\n\n".join(f"step {r.name!r} exited {r.exit_code}; its log ends:\n{r.tail()}"
                                   for r in failed)
    assert all(r.ran for r in night.results), [r.name for r in night.results if not r.ran]
    drills_log = next(r for r in night.results if r.name == "Rollback drills").log.read_text()
    assert "7 passed" in drills_log
    assert "recovered: RTO" in drills_log  # the step lines, as they happened
    # The fresh clone is the runner user's, and so is everything the job wrote in it.
    user_uid = pwd.getpwnam(RUNNER_USER).pw_uid
    assert (night.workspace / ".git").is_dir()
    for path in [night.workspace / "reports", *(night.workspace / "reports").iterdir()]:
        assert path.stat().st_uid == user_uid, path


def test_the_job_uploads_the_reports_with_each_drills_rto(night):
    reports = night.artifacts / "drill-reports-1" / "reports"
    for name in ("drill-report.html", "drill-results.json", "junit.xml", "rollback-drill.log", "history.jsonl"):
        assert (reports / name).is_file(), f"{name} not uploaded"
    results = json.loads((reports / "drill-results.json").read_text())
    assert {d["type"] for d in results["drills"]} == DRILL_TYPES
    assert all(d["status"] == "passed" for d in results["drills"])
    for case in ET.parse(reports / "junit.xml").getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert float(props["rto_target_s"]) > 0 and float(props["rto_actual_s"]) > 0, case.get("name")
    html = (reports / "drill-report.html").read_text()
    assert "Ana Li" in html and "Bo Chen" in html  # the vars.DRILL_PARTICIPANTS branch of the step


def test_the_job_saves_the_history_and_the_drill_state_and_writes_the_rto_table(night):
    saved = night.cache / "drill-state-4241"
    assert (saved / "reports" / "history.jsonl").is_file()
    assert (saved / "drill-state").is_dir()
    summary = night.step_summary.read_text()
    rows = [line for line in summary.splitlines() if line.startswith("| ") and "passed" in line]
    # The runbook's table: one row per rollback type (the emergency drill is a `full` rollback).
    assert {row.split("|")[1].strip() for row in rows} == DRILL_TYPES - {"emergency"}, summary


def test_what_the_runner_user_reads_is_that_users_alone(night):
    """The sudo route on the sandbox the job's user brings up: the config (it holds the database
    password) is theirs and 0600; the front they reload and the receiver run as them; the engine
    socket is theirs alone; reports and drill state are folders only they can enter."""
    work = night.workspace
    uid = pwd.getpwnam(RUNNER_USER).pw_uid
    for folder in (work / "reports", work / "drill-state"):
        st = folder.stat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (uid, 0o700), folder
    r = _as_user(RUNNER_USER, ["./aura", "sandbox", "up"], work, **SANDBOX_ENV)
    assert r.returncode == 0, r.stderr[-800:]
    try:
        config = Path(r.stdout.strip().splitlines()[-1])
        st = config.stat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (uid, 0o600)
        sock = Path(SANDBOX_ENV["AURA_SANDBOX_STATE"]) / "engine" / "podman.sock"
        st = sock.stat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (uid, 0o600)
        mine = "\n".join(_user_processes(RUNNER_USER))
        assert "nginx: master process" in mine and "sandbox.alert_receiver" in mine, mine
        # …and nobody else can read the config: another unprivileged user is refused.
        other = _run(["runuser", "-u", "nobody", "--", "cat", str(config)])
        assert other.returncode != 0 and "Permission denied" in other.stderr
    finally:
        down = _as_user(RUNNER_USER, ["./aura", "sandbox", "down"], work, **SANDBOX_ENV)
        assert down.returncode == 0, down.stderr[-800:]


def test_a_failed_night_still_keeps_the_history_and_state_and_leaks_no_secret(nights):
    second = nights.second
    by_name = {r.name: r for r in second.results}
    # The --preflight-only step refuses it (exit 4) before any drill starts.
    preflight = by_name["Preflight only"]
    assert preflight.ran and preflight.exit_code == 4, "a broken target config must fail the night"
    assert not by_name["Rollback drills"].ran
    log = preflight.log.read_text()
    # One line naming the bad key and the file it came from.
    assert re.search(r"^ERROR: drill config: \[target\] \S+: missing \(required\) \(in \S+/drill-config\.toml\)$",
                     log, re.MULTILINE), log[-1500:]
    # Every `if: always()` step ran after the failure.
    for name in ("Remove the target config and key files",
                 "Save the drill history and state (also after a failed night)",
                 "RTO table on the summary page", "Upload reports"):
        assert by_name[name].ran and by_name[name].ok, (name, by_name[name].tail())
    assert not (second.temp / "drill-config.toml").exists()
    # The first night's history came back through the cache and was saved again.
    first_history = (nights.first.cache / "drill-state-4241" / "reports" / "history.jsonl").read_text()
    saved = nights.second.cache / "drill-state-4242"
    assert (saved / "reports" / "history.jsonl").read_text() == first_history
    assert (saved / "drill-state").is_dir()
    # The secret is in no log, no summary, no uploaded file.
    texts = [p.read_text(errors="replace") for p in (second.root / "logs").glob("*.log")]
    texts.append(second.step_summary.read_text())
    texts += [p.read_text(errors="replace") for p in second.artifacts.rglob("*") if p.is_file()]
    assert not [t for t in texts if SECRET in t]


def test_a_committed_config_night_writes_the_key_files_privately_and_stops_at_preflight(nights):
    third = nights.third
    by_name = {r.name: r for r in third.results}
    setup = by_name["Target config and key files"]
    assert setup.ok, setup.tail()
    modes = {path: mode for mode, path in (line.split(" ", 1) for line in setup.log.read_text().splitlines()
                                           if re.fullmatch(r"[0-7]{3} /\S+", line))}
    drill_dir = third.temp / "drill"
    assert modes.pop(str(drill_dir)) == "700"
    assert {Path(p).name: m for p, m in modes.items()} == {"id_ed25519": "600", "known_hosts": "600", "ca.pem": "600"}
    preflight = by_name["Preflight only"]
    assert preflight.ran and preflight.exit_code == 4, preflight.tail()
    log = preflight.log.read_text()
    errors = [line for line in log.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, log[-1500:]
    assert re.match(r"ERROR: drill (config|target unreachable): \[front\] ", errors[0]), errors
    assert not by_name["Rollback drills"].ran  # refused before any fault
    remove = by_name["Remove the target config and key files"]
    assert remove.ran and remove.ok and not drill_dir.exists()
    texts = [p.read_text(errors="replace") for p in (third.root / "logs").glob("*.log")]
    texts.append(third.step_summary.read_text())
    texts += [p.read_text(errors="replace") for p in third.artifacts.rglob("*") if p.is_file()]
    for secret in ("pw-team-0xBADC0DE", "tok-team-0xFEEDFACE", "key-team-0xDEADBEEF", "ca-team-0xCAFE"):
        assert not [t for t in texts if secret in t], secret


def test_the_workflow_keeps_both_routes_to_a_teams_staging():
    import yaml

    text = WORKFLOW.read_text()
    for needle in ("vars.DRILL_CONFIG_PATH", "secrets.STAGING_DRILL_CONFIG", "secrets.STAGING_DB_PASSWORD",
                   "secrets.STAGING_API_TOKEN", "secrets.STAGING_SSH_KEY", "secrets.STAGING_KNOWN_HOSTS",
                   "secrets.STAGING_CA_PEM", "umask 077", "--preflight-only"):
        assert needle in text, needle
    steps = [step.get("name") for step in yaml.safe_load(text)["jobs"]["drill"]["steps"]]
    assert steps.index("Preflight only") < steps.index("Rollback drills")
