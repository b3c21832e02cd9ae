"""The upstream drill side by side with its Chaos Toolkit twin, on the same target: wall-time medians.

    .venv/bin/python bench/bench_chaos_vs_drill.py [--runs 5] [--keep-sandbox] [--drill-config FILE]

Without --drill-config it brings up a private sandbox instance (the "chaos" one of
tests/sandbox_ids.py, derived from AURA_SANDBOX_*; unset: state /var/tmp/aura-chaos, ports
19080-19084, containers aura-chaos-*) and, if it started it, purges it at the end (--keep-sandbox
leaves it up). Chaos Toolkit is not a project dependency: it lives in the benchmark's own venv
(/var/tmp/aura-bench-chaos-venv, or $AURA_BENCH_CHAOS_VENV), created on first use with
`python3 -m venv` + `pip install chaostoolkit chaostoolkit-lib[jsonpath]` and reused afterwards.

The experiment (bench/chaos_experiment.py, generated from the target's config, no pauses) and its
journal live in a temporary folder. Each of the --runs rounds times, alternating which goes first:
  chaos  `chaos --no-version-check run experiment.json --journal-path J --rollback-strategy always`
         (must end "completed", not deviated, every activity succeeded, each command exit 0, the
         fault seen on /status and api_v1 back after the rollback);
  drill  `python -m pytest drills/ -m staging -k upstream --drill-config C --reports-dir T
         --state-dir T -q -p no:cacheprovider` (must exit 0 with the drill passed).
Prints each run, the medians, the ratio drill/chaos against the issue's 3x target, Chaos
Toolkit's own start-up (a dry run: every activity skipped) and pytest's (--collect-only), the
machine and its load average, and leaves the target at its baseline (checked over HTTP, and
`python -m sandbox status` for a sandbox). Prints figures; asserts nothing about time (exit 1 only when a run failed).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from chaos_experiment import build_experiment  # noqa: E402
from machine_info import describe as describe_machine  # noqa: E402  (bench/ is on the path)

PY = str(PROJECT / ".venv" / "bin" / "python") if (PROJECT / ".venv" / "bin" / "python").exists() else sys.executable
sys.path.insert(0, str(PROJECT))  # for tests/sandbox_ids.py, where every extra sandbox is named
from tests.sandbox_ids import extra  # noqa: E402

SANDBOX_ENV = extra("chaos").env()
VENV = Path(os.environ.get("AURA_BENCH_CHAOS_VENV", "/var/tmp/aura-bench-chaos-venv"))
PACKAGES = ["chaostoolkit", "chaostoolkit-lib[jsonpath]"]  # jsonpath2: the /status pool tolerance
TARGET_RATIO = 3.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(argv, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)


def timed(argv, **kw) -> tuple[float, subprocess.CompletedProcess]:
    t = time.monotonic()
    r = run(argv, **kw)
    return time.monotonic() - t, r


# -- the benchmark's own Chaos Toolkit ------------------------------------------------------------
def ensure_chaos_venv(venv: Path) -> str:
    """The venv's `chaos`, creating the venv / installing the packages if missing; returns versions."""
    chaos, python = venv / "bin" / "chaos", venv / "bin" / "python"
    probe = [python, "-c", "import chaoslib, chaostoolkit, jsonpath2; "
                           "print(chaostoolkit.__version__, chaoslib.__version__)"]
    if not (chaos.exists() and python.exists() and run(probe).returncode == 0):
        if not python.exists():
            log(f"creating the benchmark's venv {venv} …")
            base = shutil.which("python3") or sys.executable
            r = run([base, "-m", "venv", venv])
            if r.returncode != 0:
                raise SystemExit(f"python3 -m venv {venv} failed: {r.stderr.strip()[-800:]}")
        log(f"pip install {' '.join(PACKAGES)} into {venv} …")
        r = run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *PACKAGES])
        if r.returncode != 0:
            raise SystemExit(f"pip install {' '.join(PACKAGES)} failed: {r.stderr.strip()[-1500:]}")
        if run(probe).returncode != 0:
            raise SystemExit(f"{venv}: chaostoolkit still not importable after pip install")
    toolkit, lib = run(probe).stdout.split()
    return f"chaostoolkit {toolkit}, chaostoolkit-lib {lib}"


def chaos_argv(chaos: Path, tmp: Path, journal: Path, *extra: str) -> list:
    return [chaos, "--no-version-check", "--log-file", tmp / "chaostoolkit.log", "run", tmp / "experiment.json",
            "--journal-path", journal, "--rollback-strategy", "always", *extra]


def check_journal(journal: Path) -> list[str]:
    """What is wrong with a chaos run, from its journal (empty: completed, not deviated, all good)."""
    try:
        j = json.loads(journal.read_text())
    except (OSError, ValueError) as e:
        return [f"no journal ({e})"]
    problems = []
    if j.get("status") != "completed" or j.get("deviated") is not False:
        problems.append(f"status {j.get('status')!r}, deviated {j.get('deviated')!r}")
    for part in ("run", "rollbacks"):
        for r in j.get(part) or []:
            name, out = r["activity"]["name"], r.get("output") or {}
            if r.get("status") != "succeeded":
                problems.append(f"{name}: {r.get('status')}")
            elif r["activity"]["provider"]["type"] == "process" and out.get("status") != 0:
                problems.append(f"{name}: exit {out.get('status')}: {(out.get('stderr') or '').strip()[-300:]}")
            elif name in ("status-after-fault", "status-after-rollback"):
                want = "api_v2" if name == "status-after-fault" else "api_v1"
                body = out.get("body") if isinstance(out.get("body"), dict) else {}
                if out.get("status") != 200 or body.get("pool") != want:
                    problems.append(f"{name}: /status {out.get('status')} pool {body.get('pool')!r}, want {want}")
    return problems


# -- the drill ------------------------------------------------------------------------------------
def drill_argv(config: Path, reports: Path, state: Path) -> list:
    return [PY, "-m", "pytest", "drills/", "-m", "staging", "-k", "upstream", "--drill-config", config,
            "--reports-dir", reports, "--state-dir", state, "-q", "-p", "no:cacheprovider"]


def check_drill(r: subprocess.CompletedProcess, reports: Path) -> tuple[list[str], dict]:
    problems, row = [], {}
    try:
        rows = json.loads((reports / "drill-results.json").read_text())["drills"]
        row = next(d for d in rows if d["type"] == "upstream")
    except (OSError, ValueError, KeyError, StopIteration) as e:
        problems.append(f"no upstream row in drill-results.json ({e.__class__.__name__})")
    if r.returncode != 0:
        last = (r.stdout.strip().splitlines() or [""])[-1].strip("= ")
        problems.append(f"pytest exit {r.returncode} ({last})")
    if row and row.get("status") != "passed":
        problems.append(f"drill {row.get('status')}: {'; '.join(row.get('problems') or [])}")
    return problems, row


# -- target ---------------------------------------------------------------------------------------
def front(base: str) -> tuple[int, str | None]:
    """(/healthz status, /status pool) of the front; 0 when it does not answer."""
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=3) as h:
            code = h.status
    except urllib.error.HTTPError as e:
        code = e.code
    except OSError:
        return 0, None
    try:
        with urllib.request.urlopen(base + "/status", timeout=3) as s:
            return code, json.loads(s.read()).get("pool")
    except (OSError, ValueError, AttributeError):
        return code, None


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def med(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def fmt(x: float | None, unit: str = "s") -> str:
    return "-" if x is None else f"{x:.2f}{unit}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="rounds (one chaos run + one drill each); default 5")
    ap.add_argument("--keep-sandbox", action="store_true", help="leave the private sandbox up at the end")
    ap.add_argument("--drill-config", type=Path, help="a target config; default: the private sandbox instance")
    ap.add_argument("--venv", type=Path, default=VENV, help=f"the benchmark's Chaos Toolkit venv (default {VENV})")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")

    env = dict(os.environ)
    sandbox_env = args.drill_config is None
    if sandbox_env:
        env.update(SANDBOX_ENV)
    started = False
    load_before = load()
    versions = ensure_chaos_venv(args.venv)
    chaos = args.venv / "bin" / "chaos"
    if sandbox_env:
        was_up = run([PY, "-m", "sandbox", "status"], cwd=PROJECT, env=env).returncode == 0
        log(f"sandbox up ({SANDBOX_ENV['AURA_SANDBOX_PREFIX']}, {SANDBOX_ENV['AURA_SANDBOX_STATE']}) …")
        up = run([PY, "-m", "sandbox", "up"], cwd=PROJECT, env=env)
        if up.returncode != 0:
            raise SystemExit(f"sandbox up failed: {up.stderr.strip()[-1500:]}")
        started = not was_up
        config = Path(up.stdout.strip().splitlines()[-1])
    else:
        config = args.drill_config.resolve()
    cfg = tomllib.loads(config.read_text())
    base = cfg["target"]["base_url"].rstrip("/")
    if cfg.get("http", {}).get("ca_file"):  # Chaos Toolkit's http probes (requests) trust the front's CA
        env["REQUESTS_CA_BUNDLE"] = cfg["http"]["ca_file"]

    chaos_walls, chaos_durations, drill_walls, drill_cases, rtos, commands = [], [], [], [], [], []
    activities: dict[str, list[float]] = {}  # per activity of the chaos runs: its duration
    failures: list[str] = []
    dry_walls: list[float] = []
    collect_walls: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="aura-bench-chaos-") as tmpname:
            tmp = Path(tmpname)
            (tmp / "experiment.json").write_text(json.dumps(build_experiment(cfg), indent=2) + "\n")
            log(f"experiment: {tmp / 'experiment.json'}; target {base}; config {config}")

            def one_chaos(i: int) -> None:
                journal = tmp / f"journal-{i}.json"
                wall, r = timed(chaos_argv(chaos, tmp, journal), cwd=tmp, env=env)
                problems = check_journal(journal)
                if r.returncode != 0 and not problems:
                    problems.append(f"chaos exit {r.returncode}: {r.stderr.strip()[-300:]}")
                if problems:
                    failures.append(f"chaos run {i}: " + "; ".join(problems))
                else:
                    chaos_walls.append(wall)
                    j = json.loads(journal.read_text())
                    chaos_durations.append(j["duration"])
                    states = j.get("steady_states") or {}  # {"before": {"probes": [...]}, "after": …}
                    timed_runs = [(f"hypothesis {when}: {r['activity']['name']}", r) for when in ("before", "after")
                                  for r in (states.get(when) or {}).get("probes", [])]
                    timed_runs += [(r["activity"]["name"], r) for part in ("run", "rollbacks")
                                   for r in j.get(part) or []]
                    for name, r in timed_runs:
                        activities.setdefault(name, []).append(r["duration"])
                log(f"  run {i} chaos  {wall:6.2f}s  {'ok' if not problems else 'FAILED: ' + '; '.join(problems)}")

            def one_drill(i: int) -> None:
                reports, state = tmp / f"reports-{i}", tmp / "state"
                wall, r = timed(drill_argv(config, reports, state), cwd=PROJECT, env=env)
                problems, row = check_drill(r, reports)
                case_s = None
                try:
                    cases = ET.parse(reports / "junit.xml").getroot().iter("testcase")
                    case_s = sum(float(c.get("time")) for c in cases)
                except (OSError, ET.ParseError, TypeError, ValueError):
                    case_s = None  # no usable junit.xml: the row shows "-", the failure is reported below
                if problems:
                    failures.append(f"drill run {i}: " + "; ".join(problems))
                else:
                    drill_walls.append(wall)
                    if case_s is not None:
                        drill_cases.append(case_s)
                    if row.get("rto_actual_s") is not None:
                        rtos.append(row["rto_actual_s"])
                    if row.get("command_s") is not None:
                        commands.append(row["command_s"])
                log(f"  run {i} drill  {wall:6.2f}s  {'ok' if not problems else 'FAILED: ' + '; '.join(problems)}"
                    f"  (RTO {fmt(row.get('rto_actual_s'))})")

            for i in range(1, args.runs + 1):
                order = (one_chaos, one_drill) if i % 2 else (one_drill, one_chaos)
                for step in order:
                    step(i)
            # Chaos Toolkit's own cost: the same experiment with every activity skipped (nothing runs)
            for i in range(3):
                wall, r = timed(chaos_argv(chaos, tmp, tmp / f"journal-dry-{i}.json", "--dry", "activities"),
                                cwd=tmp, env=env)
                if r.returncode == 0:
                    dry_walls.append(wall)
            # the suite's own start-up: the same pytest command, collecting only (nothing runs)
            for _ in range(3):
                wall, r = timed([*drill_argv(config, tmp / "reports-collect", tmp / "state"), "--collect-only"],
                                cwd=PROJECT, env=env)
                if r.returncode == 0:
                    collect_walls.append(wall)
    finally:
        code, pool = front(base)
        at_baseline = code == 200 and pool == "api_v1"
        status_out = ""
        if sandbox_env:
            st = run([PY, "-m", "sandbox", "status"], cwd=PROJECT, env=env)
            status_out = st.stdout.rstrip()
            at_baseline = at_baseline and st.returncode == 0
        load_after = load()
        if started and not args.keep_sandbox:
            log("sandbox down --purge (this benchmark started it) …")
            run([PY, "-m", "sandbox", "down", "--purge"], cwd=PROJECT, env=env)

    c, d = med(chaos_walls), med(drill_walls)
    ratio = d / c if c and d else None
    print(f"\nupstream drill vs Chaos Toolkit experiment, same target ({base}); medians of {args.runs} rounds")
    print(f"machine: {describe_machine()}; load average {load_before} before, {load_after} after")
    print(f"chaos: {versions} (own venv {args.venv}); drill: pytest with {Path(PY).name} in {PROJECT}")
    print(f"{'':<56}{'median':>9}{'min':>8}{'max':>8}{'n':>4}")
    for label, xs in (("chaos run, wall", chaos_walls),
                      ("  of which the journal's duration", chaos_durations),
                      *((f"    {name}", xs) for name, xs in activities.items()),
                      ("chaos start-up (dry run, nothing executed)", dry_walls),
                      ("drill (pytest -k upstream), wall", drill_walls),
                      ("  of which the test case (junit time)", drill_cases),
                      ("    drill's rollback command (command_s)", commands),
                      ("    drill's RTO", rtos),
                      ("drill start-up (pytest --collect-only)", collect_walls)):
        if xs:
            print(f"{label:<56}{med(xs):>8.2f}s{min(xs):>7.2f}s{max(xs):>7.2f}s{len(xs):>4}")
        else:
            print(f"{label:<56}{'-':>9}")
    verdict = "-" if ratio is None else ("within" if ratio <= TARGET_RATIO else "ABOVE")
    print(f"ratio drill/chaos: {fmt(ratio, 'x')}   (target <= {TARGET_RATIO:.0f}x: {verdict})")
    print(f"target after the benchmark: /healthz {code}, pool {pool}: "
          f"{'at baseline' if at_baseline else 'NOT AT BASELINE'}")
    if status_out:
        print(status_out)
    for f in failures:
        print(f"FAILED {f}")
    return 0 if not failures and at_baseline else 1


if __name__ == "__main__":
    sys.exit(main())
