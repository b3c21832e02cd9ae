"""How long `python -m sandbox up` takes: warm (images built) and cold (no images, no cache).

    .venv/bin/python bench/bench_sandbox_up.py [--runs 3] [--cold]

Uses a private instance (state /var/tmp/aura-bench-up, ports 18680+, containers aura-bench-*).
Cold runs remove the aura-api images and the package cache first (they download Debian packages
again): run --cold with no other sandbox up. Prints each run and the median.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, AURA_SANDBOX_STATE="/var/tmp/aura-bench-up", AURA_SANDBOX_PORT_BASE="18680",
           AURA_SANDBOX_PREFIX="aura-bench", AURA_SANDBOX_CACHE="/var/tmp/aura-bench-cache")


def sandbox(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=PROJECT, env=ENV,
                          capture_output=True, text=True)


def remove_images() -> None:
    """Forget every aura-api image and the package cache, so the next `up` builds from nothing.
    Run it with no other sandbox up: their containers use the same images."""
    sandbox("down")
    cli = shutil.which("podman") or shutil.which("docker")
    listed = subprocess.run([cli, "images", "-q", "--filter", "reference=*aura-api*"], capture_output=True,
                            text=True).stdout.split()
    if listed:
        subprocess.run([cli, "rmi", "-f", *sorted(set(listed))], capture_output=True)
    shutil.rmtree(ENV["AURA_SANDBOX_CACHE"], ignore_errors=True)


def timed_up() -> float:
    sandbox("down")
    t = time.monotonic()
    r = sandbox("up")
    elapsed = time.monotonic() - t
    if r.returncode != 0:
        sys.exit(f"sandbox up failed: {r.stderr.strip().splitlines()[-1]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="also time cold runs (removes aura-api images)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; runs: {args.runs}")
    timed_up()  # make sure images exist before the warm runs
    warm = [timed_up() for _ in range(args.runs)]
    print("warm up (images built): " + ", ".join(f"{t:.2f}s" for t in warm)
          + f"  median {statistics.median(warm):.2f}s  (target <= 10 s)")
    if args.cold:
        cold = []
        for _ in range(args.runs):
            remove_images()
            cold.append(timed_up())
        print("cold up (no images):    " + ", ".join(f"{t:.2f}s" for t in cold)
              + f"  median {statistics.median(cold):.2f}s  (target <= 90 s)")
    sandbox("down", "--purge")
    return 0


if __name__ == "__main__":
    sys.exit(main())
