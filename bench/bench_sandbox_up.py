"""How long `python -m sandbox up` takes: warm (images built) and cold (no images, no cache).

    .venv/bin/python bench/bench_sandbox_up.py [--runs 3] [--cold] [--hosts] [--port-base N --state DIR --prefix P]

Uses a private instance (the "bench-up" one of tests/sandbox_ids.py, derived from AURA_SANDBOX_*;
unset: state /var/tmp/aura-bench-up, ports 18680+, containers aura-bench-*, package cache
/var/tmp/aura-bench-cache; or --port-base, --state, --prefix). Cold runs remove the run's API images
($AURA_SANDBOX_IMAGE_REPOSITORY, unset: aura-api) and the package cache first (they download
Debian packages again): run --cold with no other sandbox up.

--hosts also times `up --hosts` (the hosts layout: front host over SSH, engine over TCP) beside
the single-host `up`: warm (both images built) and cold. Its cold runs remove only the front's
image (aura-front:*) and the private package cache, never the aura-api images other sandboxes'
containers run on: they time what the hosts layout adds from nothing (goal: warm <= 5 s, cold
<= 90 s). Prints each run and the median.
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
sys.path.insert(0, str(PROJECT))  # for tests/sandbox_ids.py, where every extra sandbox is named
from tests.sandbox_ids import extra  # noqa: E402

# its own package cache too (cold runs delete it): beside the run's, or today's default
_CACHE = os.environ.get("AURA_SANDBOX_CACHE")
ENV = dict(os.environ, **extra("bench-up").env(),
           AURA_SANDBOX_CACHE=f"{_CACHE.rstrip('/')}-bench" if _CACHE else "/var/tmp/aura-bench-cache")


def use_instance(port_base: int, state: str, prefix: str) -> None:
    ENV.update(AURA_SANDBOX_PORT_BASE=str(port_base), AURA_SANDBOX_STATE=state, AURA_SANDBOX_PREFIX=prefix)


def sandbox(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=PROJECT, env=ENV,
                          capture_output=True, text=True)


def remove_images() -> None:
    """Forget every image of the run's repository (aura-api by default) and the package cache, so
    the next `up` builds from nothing.
    Run it with no other sandbox up: their containers use the same images."""
    sandbox("down")
    cli = shutil.which("podman") or shutil.which("docker")
    repository = ENV["AURA_SANDBOX_IMAGE_REPOSITORY"]
    listed = subprocess.run([cli, "images", "-q", "--filter", f"reference=*{repository}*"], capture_output=True,
                            text=True).stdout.split()
    if listed:
        subprocess.run([cli, "rmi", "-f", *sorted(set(listed))], capture_output=True)
    shutil.rmtree(ENV["AURA_SANDBOX_CACHE"], ignore_errors=True)


def remove_front_images() -> None:
    """Forget the front host's images (no other sandbox's container runs on them, unless it is
    a hosts layout: a refused removal then leaves it alone) and the private package cache."""
    sandbox("down")
    cli = shutil.which("podman") or shutil.which("docker")
    listed = subprocess.run([cli, "images", "-q", "--filter", "reference=*aura-front*"], capture_output=True,
                            text=True).stdout.split()
    for image in sorted(set(listed)):
        subprocess.run([cli, "rmi", image], capture_output=True)  # no -f: an image in use stays
    shutil.rmtree(ENV["AURA_SANDBOX_CACHE"], ignore_errors=True)


def timed_up(*flags: str) -> float:
    sandbox("down")
    t = time.monotonic()
    r = sandbox("up", *flags)
    elapsed = time.monotonic() - t
    if r.returncode != 0:
        sys.exit(f"sandbox up failed: {r.stderr.strip().splitlines()[-1]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="also time cold runs (removes aura-api images)")
    parser.add_argument("--hosts", action="store_true", help="also time `up --hosts` (the hosts layout)")
    parser.add_argument("--port-base", type=int, default=int(ENV["AURA_SANDBOX_PORT_BASE"]),
                        help="first of the instance's ten ports (default %(default)s)")
    parser.add_argument("--state", default=ENV["AURA_SANDBOX_STATE"], help="state folder (default %(default)s)")
    parser.add_argument("--prefix", default=ENV["AURA_SANDBOX_PREFIX"], help="container prefix (default %(default)s)")
    args = parser.parse_args()
    use_instance(args.port_base, args.state, args.prefix)
    print(f"machine: {os.cpu_count()} cores (shared: timings vary with other load); runs: {args.runs}")
    timed_up()  # make sure images exist before the warm runs
    warm = [timed_up() for _ in range(args.runs)]
    print("warm up (images built): " + ", ".join(f"{t:.2f}s" for t in warm)
          + f"  median {statistics.median(warm):.2f}s  (target <= 10 s)")
    if args.hosts:
        timed_up("--hosts")  # the front image exists before the warm runs
        warm_h = [timed_up("--hosts") for _ in range(args.runs)]
        print("warm up --hosts:        " + ", ".join(f"{t:.2f}s" for t in warm_h)
              + f"  median {statistics.median(warm_h):.2f}s  (target <= 5 s)")
        again = []
        for _ in range(args.runs):  # already up: what a second `up --hosts` (the suite's) costs
            t = time.monotonic()
            sandbox("up", "--hosts")
            again.append(time.monotonic() - t)
        print("up --hosts when up:     " + ", ".join(f"{t:.2f}s" for t in again)
              + f"  median {statistics.median(again):.2f}s")
        if args.cold:
            cold_h = []
            for _ in range(args.runs):
                remove_front_images()
                cold_h.append(timed_up("--hosts"))
            print("cold up --hosts (no front image, no package cache): " + ", ".join(f"{t:.2f}s" for t in cold_h)
                  + f"  median {statistics.median(cold_h):.2f}s  (target <= 90 s)")
    if args.cold and not args.hosts:
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
