"""Where a drill's time goes: per drill, each phase and the total; and the seven drills in one run.

    .venv/bin/python bench/bench_drills.py [--runs 5] [-k EXPR] [--drill-config FILE] [--whole-runs 3]
    .venv/bin/python bench/bench_drills.py --engines podman,docker [--runs 5] [-k EXPR]
    .venv/bin/python bench/bench_drills.py --compose [--engines podman,docker] [--runs 5] [-k EXPR]
    .venv/bin/python bench/bench_drills.py --tls [--runs 5] [-k EXPR]

Per drill, one `pytest drills/ -m staging -k <drill>` process per run, its terminal read line by
line as it is written: the suite prints one line per step (fixtures/progress.py), so the time each
line arrives splits the wall time into phases:

    start-up   process start -> the target resolved (imports, `sandbox up` check, reachability, lock)
    preflight  -> "preflight passed"
    snapshot   -> "snapshot taken" (drill fixtures, fingerprint, row backup, journal)
    fault      -> "fault ... injected, observed ..."
    rollback   -> "recovered" (the re-check at t0, the rollback command, the recovery)
    soak+checks-> "checks: ..." (the soak; verify, smoke, /metrics and host checks run inside it)
    restore    -> "staging restored"
    report     -> process exit (results, HTML report, JUnit, history)

`--hosts`: the same per-drill figures on both layouts side by side, drilled in turn — the single-host sandbox and
`sandbox up --hosts` (front over SSH, engine over TCP) as a second instance of its own (state
`<state>-hosts`, port base +10, prefix `<prefix>h`, so neither layout takes the other's place) —
with the difference per phase: what the SSH transport costs a drill. Both are left up.

Then `--whole-runs` runs of all selected drills in one process (the nightly job's shape): its wall
time and the sum of the drill tests' own times (JUnit). Every figure is the median of the runs.
Outputs go to temporary folders (never the project's reports/). The target is the sandbox named
by the AURA_SANDBOX_* environment (brought up first, not timed, left up), or --drill-config.

`--engines podman,docker`: the same per-drill figures on each engine side by side, the sandbox brought
up on one engine after the other (AURA_SANDBOX_ENGINE; every run of one engine before the next: a
switch recreates the containers, so the engines' runs are not interleaved), and the difference per
drill; the sandbox is then put back on the engine the environment names.

`--compose`: the same per-drill figures with the sandbox's API services as its compose project
(the default; faults and restores through compose) and as raw engine containers
(AURA_SANDBOX_COMPOSE=0: no [compose], faults and restores through the Engine API), side by side,
on each engine of --engines (default: the environment's), and the difference per drill: what
drilling as compose sees it costs. The sandbox is then put back as the environment names it.

`--tls`: the same per-drill figures with the sandbox's front on HTTPS (its own CA, the default) and
a second instance's front on plain HTTP (AURA_SANDBOX_TLS=0, state `<state>-bench-plain`, port base
+20), both up at once and drilled in turn, drill by drill (who goes first alternates), so drift
falls on both sides alike: what TLS costs a drill (the bearer token is sent on both sides). The
plain instance is left up.

`--compare DIR`: the same figures for another checkout of the project (say the commit before a
change: `git worktree add DIR REV`, with DIR/.venv linked to this venv), on the same target, run
alternately with this one (which goes first alternates too), so both see the same load on a
shared machine; prints both tables and this checkout minus DIR.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from machine_info import describe as describe_machine

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))  # for tests/sandbox_ids.py, where every extra sandbox is named
from tests.sandbox_ids import extra  # noqa: E402

PHASES = ("start-up", "preflight", "snapshot", "fault", "rollback", "soak+checks", "restore", "report")
# The line that ends each phase but the last (which ends with the process).
PHASE_ENDS = (("start-up", "[drills] target "), ("preflight", "[drills] preflight passed"),
              ("snapshot", "] snapshot taken:"), ("fault", "] fault "), ("rollback", "] recovered: RTO"),
              ("soak+checks", "] checks: "), ("restore", "] staging restored"))


def pytest_command(reports: Path, state: Path, extra: list[str], where: str = "drills/") -> list[str]:
    return [sys.executable, "-m", "pytest", where, "-m", "staging", "-q", "-p", "no:cacheprovider",
            "--reports-dir", str(reports), "--state-dir", str(state), *extra]


def timed_lines(command: list[str], env: dict[str, str] | None = None,
                cwd: Path = PROJECT) -> tuple[int, float, list[tuple[float, str]]]:
    """(exit code, wall seconds, [(seconds since start, line)]) with each line stamped on arrival."""
    start = time.monotonic()
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    assert proc.stdout is not None
    lines = [(time.monotonic() - start, line.rstrip("\n")) for line in proc.stdout]
    code = proc.wait()
    return code, time.monotonic() - start, lines


def phases_of(lines: list[tuple[float, str]], wall: float) -> dict[str, float]:
    ends: dict[str, float] = {}
    for phase, marker in PHASE_ENDS:
        ends[phase] = next(t for t, line in lines if marker in line and t >= max(ends.values(), default=0.0))
    ends["report"] = wall
    out, before = {}, 0.0
    for phase in PHASES:
        out[phase], before = ends[phase] - before, ends[phase]
    return out


def drill_ids(extra: list[str]) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="aura-bench-") as tmp:  # even collecting writes a report
        r = subprocess.run([sys.executable, "-m", "pytest", "drills/", "-m", "staging", "--collect-only", "-q",
                            "-p", "no:cacheprovider", "--reports-dir", tmp, *extra], cwd=PROJECT,
                           capture_output=True, text=True)
    return [line for line in r.stdout.splitlines() if "::" in line]


def _alternate(i: int, trees: list) -> list:
    """Round i's order of the checkouts (or arms): which goes first alternates."""
    return trees if i % 2 == 0 else trees[::-1]


@dataclass(frozen=True)
class Arm:
    """One side of a comparison: a label, the checkout that runs the suite, its extra pytest args
    (the target: --drill-config)."""
    label: str
    tree: Path
    extra: tuple[str, ...]


def bench_per_drill(ids: list[str], runs: int, arms: list[Arm]) -> dict[str, dict[str, dict[str, list[float]]]]:
    """Per arm, drill and phase, the seconds of each run; the arms run in turn for each drill of
    each round (who goes first alternates), so every arm sees the same load. With a `[front]`
    target also "ssh" (the suite's own transport: connection set-up + operations,
    helpers/front/ssh.py's AURA_FRONT_STATS), "ssh ops" (how many operations) and "forwards"
    (opening `[front] forward`'s tunnels, part of "ssh")."""
    import json

    figures: dict[str, dict[str, dict[str, list[float]]]] = {
        arm.label: defaultdict(lambda: defaultdict(list)) for arm in arms}
    for i in range(runs):
        for node in ids:
            for arm in _alternate(i, arms):
                with tempfile.TemporaryDirectory(prefix="aura-bench-") as tmp:
                    stats = Path(tmp) / "front-stats.jsonl"
                    code, wall, lines = timed_lines(pytest_command(Path(tmp) / "reports", Path(tmp) / "state",
                                                                   list(arm.extra), where=node),
                                                    env={**os.environ, "AURA_FRONT_STATS": str(stats)}, cwd=arm.tree)
                    if stats.exists():
                        used = [json.loads(line) for line in stats.read_text().splitlines()]
                        figures[arm.label][node]["ssh"].append(sum(u["connect_s"] + u["operations_s"] for u in used))
                        figures[arm.label][node]["ssh ops"].append(sum(u["operations"] for u in used))
                        figures[arm.label][node]["forwards"].append(sum(u.get("forwards_s", 0.0) for u in used))
                if code != 0:
                    print("\n".join(line for _t, line in lines[-40:]), file=sys.stderr)
                    sys.exit(f"{node} failed in {arm.label} (exit {code})")
                if any("[sandbox] images: building" in line for _t, line in lines):
                    print(f"note: {node} in {arm.label}: sandbox up rebuilt images in this run (another "
                          "sandbox sharing the Podman store replaced them?)", file=sys.stderr)
                for phase, seconds in phases_of(lines, wall).items():
                    figures[arm.label][node][phase].append(seconds)
                figures[arm.label][node]["total"].append(wall)
        print(f"per-drill run {i + 1}/{runs} done", file=sys.stderr, flush=True)
    return figures


def bench_whole(runs: int, extra: list[str],
                trees: list[Path] | None = None) -> dict[Path, tuple[list[float], list[float]]]:
    trees = trees or [PROJECT]
    out: dict[Path, tuple[list[float], list[float]]] = {tree: ([], []) for tree in trees}
    for i in range(runs):
        for tree in _alternate(i, trees):
            walls, tests = out[tree]
            with tempfile.TemporaryDirectory(prefix="aura-bench-") as tmp:
                code, wall, lines = timed_lines(pytest_command(Path(tmp) / "reports", Path(tmp) / "state", extra),
                                                cwd=tree)
                if code != 0:
                    print("\n".join(line for _t, line in lines[-40:]), file=sys.stderr)
                    sys.exit(f"whole run failed in {tree} (exit {code})")
                cases = ET.parse(Path(tmp) / "reports" / "junit.xml").getroot().iter("testcase")
                tests.append(sum(float(c.get("time") or 0) for c in cases))
            walls.append(wall)
            print(f"whole run {i + 1}/{runs} ({tree}): {wall:.1f}s", file=sys.stderr, flush=True)
    return out


def sandbox_up(env: dict[str, str], *hosts: str, cwd: Path = PROJECT) -> str:
    up = subprocess.run([sys.executable, "-m", "sandbox", "up", *hosts], cwd=cwd, capture_output=True,
                        text=True, env=env)
    if up.returncode != 0:
        sys.exit(f"sandbox up {' '.join(hosts)} failed: {(up.stderr.strip().splitlines() or ['?'])[-1]}")
    return up.stdout.strip().splitlines()[-1]


def hosts_env(args: argparse.Namespace) -> dict[str, str]:
    """The hosts layout's own instance beside the single-host one named by AURA_SANDBOX_*
    (--hosts-state, --hosts-port-base, --hosts-prefix choose another)."""
    ident = extra("bench-hosts")  # tests/sandbox_ids.py
    return {**os.environ, **ident.env(), "AURA_SANDBOX_STATE": args.hosts_state or ident.state,
            "AURA_SANDBOX_PORT_BASE": str(args.hosts_port_base or ident.port_base),
            "AURA_SANDBOX_PREFIX": args.hosts_prefix or ident.prefix}


def _two_arms_table(args: argparse.Namespace, a: tuple[str, str], b: tuple[str, str], *,
                    ssh_of_b: bool = False, tree_of_a: Path = PROJECT) -> int:
    """Per drill, two targets (label, config) drilled in turn (A by the checkout tree_of_a), drill
    by drill, with the order alternating, so drift falls on both sides: medians of A, B, B - A and B - A by phase. With
    ssh_of_b, B's own SSH transport too (connection set-up and every front operation: the suite's
    AURA_FRONT_STATS; the [commands] wrapper's sessions and testinfra's are not in it)."""
    runs, k = args.runs, (["-k", args.k] if args.k else [])
    ids = drill_ids(k)
    if not ids:
        sys.exit("no drill selected")
    figures = bench_per_drill(ids, runs, [Arm(name, tree, (*k, "--drill-config", cfg))
                                          for (name, cfg), tree in ((a, tree_of_a), (b, PROJECT))])
    med = statistics.median
    (na, ca), (nb, cb) = a, b
    print(f"\nmachine: {describe_machine()}")
    print(f"{na}: {ca}\n{nb}: {cb}")
    print(f"\nper drill, one pytest process each, drilled in turn, median of {runs} runs (seconds): "
          f"{na} / {nb} / {nb} - {na}")
    ssh_head = f"{'ssh':>7}{'ops':>5}{'fwd':>6}" if ssh_of_b else ""
    print(f"{'drill':<40}{na:>9}{nb:>9}{'delta':>8}{ssh_head}   delta by phase: " + " ".join(PHASES[:-1]))
    for node in ids:
        fa, fb = figures[na][node], figures[nb][node]
        phases = " ".join(f"{med(fb[p]) - med(fa[p]):+.2f}" for p in PHASES[:-1])
        ssh = ""
        if ssh_of_b:
            ssh = (f"{med(fb['ssh']):>7.2f}{med(fb['ssh ops']):>5.0f}{med(fb['forwards']):>6.2f}" if fb.get("ssh")
                   else f"{'-':>7}{'-':>5}{'-':>6}")
        print(f"{node.split('::', 1)[1]:<40}{med(fa['total']):>9.2f}{med(fb['total']):>9.2f}"
              f"{med(fb['total']) - med(fa['total']):>+8.2f}{ssh}   {phases}")
    return 0


def bench_layouts(args: argparse.Namespace) -> int:
    """Per drill, the single-host layout and the hosts layout side by side (medians). With
    --compare DIR: the hosts layout of DIR's checkout (before) and of this one (after), each its
    own instance, both brought up by their own checkout's sandbox."""
    hosts = sandbox_up(hosts_env(args), "--hosts")
    if args.compare:
        tree = Path(args.compare).resolve()
        before = sandbox_up({**os.environ, **extra("bench-hosts-before").env()}, "--hosts", cwd=tree)
        return _two_arms_table(args, ("before", before), ("after", hosts), ssh_of_b=True, tree_of_a=tree)
    single = sandbox_up(dict(os.environ))
    return _two_arms_table(args, ("single", single), ("hosts", hosts), ssh_of_b=True)


def bench_tls(args: argparse.Namespace) -> int:
    """Per drill, the run's sandbox (its front on HTTPS, the default) and a second instance whose
    front serves plain HTTP (AURA_SANDBOX_TLS=0; the token stays), both up at once: what TLS
    costs a drill (delta: TLS minus plain)."""
    tls = sandbox_up(dict(os.environ))
    plain = sandbox_up({**os.environ, **extra("bench-plain").env(), "AURA_SANDBOX_TLS": "0"})
    code = _two_arms_table(args, ("plain", plain), ("tls", tls))
    print(f"(the plain instance is left up: {extra('bench-plain').state}; "
          "`AURA_SANDBOX_STATE=… python -m sandbox down --purge` with its AURA_SANDBOX_* removes it)")
    return code


def variants_of(args: argparse.Namespace) -> list[tuple[str, dict[str, str]]]:
    """(label, environment overrides) of each sandbox variant to compare: the engines of --engines,
    and with --compose each of those as the compose project and as raw engine containers."""
    engines = [e.strip() for e in (args.engines or "").split(",") if e.strip()]
    if args.engines is not None and (not engines or any(e not in ("docker", "podman") for e in engines)):
        sys.exit(f"--engines {args.engines!r}: a comma-separated list of docker and podman")
    on = [(e, {"AURA_SANDBOX_ENGINE": e}) for e in engines] or [("", {})]
    for wanted, variable, kinds in ((args.compose, "AURA_SANDBOX_COMPOSE", (("compose", "1"), ("raw", "0"))),):
        if wanted:
            on = [(f"{name}{'+' if name else ''}{kind}", {**env, variable: flag})
                  for name, env in on for kind, flag in kinds]
    return on


def bench_variants(args: argparse.Namespace) -> int:
    """Per drill, the sandbox in each variant (engine, compose or raw, TLS or plain) side by side (medians)."""
    variants = variants_of(args)
    runs, k = args.runs, (["-k", args.k] if args.k else [])
    ids = drill_ids(k)
    if not ids:
        sys.exit("no drill selected")
    figures, configs = {}, {}
    names = [label for label, _env in variants]
    try:
        for label, overrides in variants:
            env = {**os.environ, **overrides}
            configs[label] = sandbox_up(env)
            arm = Arm(label, PROJECT, (*k, "--drill-config", configs[label]))
            figures[label] = bench_per_drill(ids, runs, [arm])[label]
    finally:
        sandbox_up(dict(os.environ))  # back on the engine and layout the environment names
    med = statistics.median
    print(f"\nmachine: {describe_machine()}")
    for label in names:
        print(f"{label}: {configs[label]}")
    first = names[0]
    print(f"\nper drill, one pytest process each, median of {runs} runs (seconds), total"
          + (f" and minus {first}" if len(names) > 1 else ""))
    print(f"{'drill':<40}" + "".join(f"{e:>16}" for e in names)
          + "".join(f"{e + '-' + first:>28}" for e in names[1:]) + "   by phase (" + ", ".join(PHASES) + ")")
    for node in ids:
        totals = [med(figures[e][node]["total"]) for e in names]
        deltas = "".join(f"{t - totals[0]:>+28.2f}" for t in totals[1:])
        phases = " | ".join(" ".join(f"{med(figures[e][node][p]):.2f}" for p in PHASES) for e in names)
        print(f"{node.split('::', 1)[1]:<40}" + "".join(f"{t:>16.2f}" for t in totals) + deltas + "   " + phases)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per drill (default 5)")
    parser.add_argument("--whole-runs", type=int, default=3, help="runs of all drills in one process (default 3)")
    parser.add_argument("-k", dest="k", default=None, help="pytest -k expression (default: every drill)")
    parser.add_argument("--drill-config", default=None, help="drill this target instead of the sandbox")
    parser.add_argument("--hosts", action="store_true",
                        help="per drill, the single-host and the hosts layout side by side (median of --runs)")
    parser.add_argument("--hosts-state", default=None, help="--hosts: the hosts instance's state folder")
    parser.add_argument("--hosts-port-base", type=int, default=None, help="--hosts: its port base")
    parser.add_argument("--hosts-prefix", default=None, help="--hosts: its container prefix")
    parser.add_argument("--engines", default=None, metavar="LIST",
                        help="per drill, the sandbox on each engine side by side, e.g. podman,docker "
                             "(median of --runs)")
    parser.add_argument("--compose", action="store_true",
                        help="per drill, the sandbox's services as the compose project and as raw engine containers "
                             "side by side (AURA_SANDBOX_COMPOSE=1/0; on each engine of --engines)")
    parser.add_argument("--tls", action="store_true",
                        help="per drill, the sandbox's front on HTTPS with its CA and on plain HTTP side by side "
                             "(AURA_SANDBOX_TLS=1/0; the token stays): what TLS costs a drill")
    parser.add_argument("--compare", metavar="DIR", default=None,
                        help="another checkout of the project, run alternately with this one on the same target "
                             "(with --hosts: each on its own hosts layout, DIR's as before and this one's as after)")
    args = parser.parse_args()
    if args.hosts:
        return bench_layouts(args)
    if args.tls:
        if args.engines or args.compose:
            sys.exit("--tls runs two instances side by side on the environment's engine and layout: "
                     "it does not combine with --engines or --compose")
        return bench_tls(args)
    if args.engines or args.compose:
        return bench_variants(args)
    extra = (["-k", args.k] if args.k else []) + (["--drill-config", args.drill_config] if args.drill_config else [])
    if not args.drill_config:
        up = subprocess.run([sys.executable, "-m", "sandbox", "up"], cwd=PROJECT, capture_output=True, text=True)
        if up.returncode != 0:
            sys.exit(f"sandbox up failed: {up.stderr.strip().splitlines()[-1]}")
    ids = drill_ids(extra)
    if not ids:
        sys.exit("no drill selected")
    trees = [PROJECT] + ([Path(args.compare).resolve()] if args.compare else [])
    arms = [Arm(str(tree), tree, tuple(extra)) for tree in trees]
    per = ({Path(label): f for label, f in bench_per_drill(ids, args.runs, arms).items()}
           if args.runs > 0 else {})
    whole = bench_whole(args.whole_runs, extra, trees) if args.whole_runs > 0 else {}

    med = lambda xs: f"{statistics.median(xs):.2f}" if xs else "-"  # noqa: E731
    print(f"\nmachine: {describe_machine()}")
    print(f"target: {args.drill_config or 'the sandbox (already up, warm)'}")
    for tree in trees:
        name = "" if len(trees) == 1 else f" [{tree}]"
        if per:
            print(f"\nper drill, one pytest process each, median of {args.runs} runs (seconds){name}:")
            print(f"{'drill':<40}" + "".join(f"{p:>12}" for p in (*PHASES, "total")))
            for node, f in per[tree].items():
                print(f"{node.split('::', 1)[1]:<40}" + "".join(f"{med(f[p]):>12}" for p in (*PHASES, "total")))
        if whole:
            walls, tests = whole[tree]
            print(f"\n{len(ids)} drills in one process, median of {args.whole_runs} runs{name}: wall {med(walls)} s, "
                  f"the drill tests themselves {med(tests)} s (target <= 25 s)")
    if len(trees) == 2:
        this, other = trees
        diff = lambda a, b: f"{statistics.median(a) - statistics.median(b):+.2f}" if a and b else "-"  # noqa: E731
        print(f"\nthis checkout minus {other}, medians (seconds; negative: this one is faster):")
        if per:
            print(f"{'drill':<40}" + "".join(f"{p:>12}" for p in (*PHASES, "total")))
            for node in ids:
                print(f"{node.split('::', 1)[1]:<40}"
                      + "".join(f"{diff(per[this][node][p], per[other][node][p]):>12}" for p in (*PHASES, "total")))
        if whole:
            print(f"whole run: wall {diff(whole[this][0], whole[other][0])} s, "
                  f"drill tests {diff(whole[this][1], whole[other][1])} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
