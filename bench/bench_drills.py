"""Drill timings against a sandbox that is already up: per drill RTO, command time and wall time.

    .venv/bin/python bench/bench_drills.py [--runs 3] [-k EXPR]

Runs `pytest drills/ -m staging` (the nightly job) --runs times with a temporary --reports-dir
(the project's reports/ is left alone), reads drill-results.json and junit.xml there after each
run, and prints the median of every figure and of the whole run's
wall time. The sandbox is brought up first (not timed) and left up.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def one_run(extra: list[str], reports: Path) -> tuple[float, dict[str, dict]]:
    t = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "pytest", "drills/", "-m", "staging", "-q", "-p", "no:cacheprovider",
                        "--reports-dir", str(reports), *extra], cwd=PROJECT, capture_output=True, text=True)
    wall = time.monotonic() - t
    if r.returncode != 0:
        print(r.stdout[-2000:], file=sys.stderr)
        sys.exit(f"drill run failed (exit {r.returncode})")
    results = json.loads((reports / "drill-results.json").read_text())
    case_time = {}
    for case in ET.parse(reports / "junit.xml").getroot().iter("testcase"):
        node = f"{case.get('classname').replace('.', '/')}.py::{case.get('name')}"
        case_time[node] = float(case.get("time"))
    per = {}
    for d in results["drills"]:
        per[d["id"]] = {"rto_s": d["rto_actual_s"], "command_s": d["command_s"], "wall_s": case_time.get(d["id"])}
    return wall, per


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("-k", dest="k", default=None, help="pytest -k expression (default: every drill)")
    args = parser.parse_args()
    up = subprocess.run([sys.executable, "-m", "sandbox", "up"], cwd=PROJECT, capture_output=True, text=True)
    if up.returncode != 0:
        sys.exit(f"sandbox up failed: {up.stderr.strip().splitlines()[-1]}")
    extra = ["-k", args.k] if args.k else []
    walls, figures = [], defaultdict(lambda: defaultdict(list))
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="aura-bench-reports-") as reports:
            wall, per = one_run(extra, Path(reports))
        walls.append(wall)
        print(f"run {i + 1}: {wall:.1f}s wall", flush=True)
        for node, f in per.items():
            for key, value in f.items():
                if value is not None:
                    figures[node][key].append(value)
    print(f"\nmachine: {os.cpu_count()} cores; median of {args.runs} runs; sandbox already up")
    print(f"{'drill':<62} {'RTO s':>7} {'command s':>10} {'wall s':>7}")
    med = lambda xs: f"{statistics.median(xs):.2f}" if xs else "-"  # noqa: E731
    for node, f in sorted(figures.items()):
        print(f"{node.split('::', 1)[1]:<62} {med(f['rto_s']):>7} {med(f['command_s']):>10} {med(f['wall_s']):>7}")
    print(f"{'whole run (pytest drills/ -m staging)':<62} {'':>7} {'':>10} {statistics.median(walls):>7.1f}"
          "   (target <= 60 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
