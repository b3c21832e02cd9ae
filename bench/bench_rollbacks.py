"""How long each rollback type takes on the sandbox: median of N runs, a fault injected before each.

    .venv/bin/python bench/bench_rollbacks.py [--config SANDBOX_TOML] [--runs 5]

Without --config it brings up a separate sandbox instance (the "scripts" one of tests/sandbox_ids.py,
derived from AURA_SANDBOX_*; unset: state /var/tmp/aura-scripts, ports 18280-18284, containers
aura-scripts-*) and takes it down at the end. The time measured is the
rollback command's wall time (spawn to exit), which includes its own verification; the fault
injection and the check that it took effect are outside the timer. Prints figures; asserts nothing
about time.
"""
from __future__ import annotations

import argparse
import os
import shlex
import ssl
import statistics
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

from machine_info import describe as describe_machine

PROJECT = Path(__file__).resolve().parents[1]
PY = str(PROJECT / ".venv" / "bin" / "python") if (PROJECT / ".venv" / "bin" / "python").exists() else sys.executable
ROLLBACK = PROJECT / "sandbox" / "auraflow" / "scripts" / "rollback.sh"
SWITCH = PROJECT / "sandbox" / "auraflow" / "deploy" / "switch_upstream.sh"
sys.path.insert(0, str(PROJECT))  # for tests/sandbox_ids.py, where every extra sandbox is named
from tests.sandbox_ids import extra  # noqa: E402

SANDBOX_ENV = extra("scripts").env()


def sh(argv, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {shlex.join(map(str, argv))}\n{r.stderr[-800:]}")
    return r


class Target:
    def __init__(self, path: Path):
        self.path = path
        self.cfg = tomllib.loads(path.read_text())
        self.conf = Path(self.cfg["nginx"]["conf"])

    def healthz(self) -> int:
        ca_file = self.cfg.get("http", {}).get("ca_file")  # the front's private CA ([http])
        context = ssl.create_default_context(cafile=ca_file) if ca_file else None
        try:
            with urllib.request.urlopen(self.cfg["target"]["base_url"] + "/healthz", timeout=2,
                                        context=context) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return 0

    def nginx_test_ok(self) -> bool:
        return subprocess.run(shlex.split(self.cfg["nginx"]["test_cmd"]), capture_output=True).returncode == 0

    def rollback(self, *args) -> None:
        sh([ROLLBACK, "--config", self.path, *args, "--reason", "bench", "--yes"])

    # -- faults (each proven to have taken effect) --------------------------------------------
    def fault_image(self) -> None:
        self.rollback("--type", "image", "--tag", "v1.1.0")

    def fault_nginx(self) -> None:
        self.conf.write_bytes(self.conf.read_bytes() + b"invalid_config\n")
        assert not self.nginx_test_ok()

    def fault_database(self) -> None:
        sh([*shlex.split(self.cfg["commands"]["migrate"]), self.cfg["database"]["bad_revision"]])
        assert self.healthz() == 503

    def fault_upstream(self) -> None:
        sh([SWITCH, "--config", self.path, "--target", "api_v2"])

    def fault_full(self) -> None:
        self.fault_image()
        self.fault_upstream()
        self.fault_database()
        self.fault_nginx()


CASES = {
    "image": (["--type", "image", "--tag", "stable"], "fault_image"),
    "nginx": (["--type", "nginx"], "fault_nginx"),
    "database": (["--type", "database"], "fault_database"),
    "upstream": (["--type", "upstream"], "fault_upstream"),
    "full": (["--type", "full", "--tag", "stable"], "fault_full"),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--types", default=",".join(CASES))
    args = ap.parse_args()
    started = False
    env = {**os.environ, **SANDBOX_ENV}
    if args.config is None:
        print(f"bringing up a separate sandbox ({SANDBOX_ENV['AURA_SANDBOX_PREFIX']}) …", file=sys.stderr)
        r = subprocess.run([PY, "-m", "sandbox", "up"], cwd=PROJECT, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"sandbox up failed: {r.stderr[-1500:]}")
        args.config = Path(r.stdout.strip().splitlines()[-1])
        started = True
    t = Target(args.config)
    rto = t.cfg.get("rto", {})
    results: dict[str, list[float]] = {}
    try:
        for kind in args.types.split(","):
            argv, fault = CASES[kind]
            times = []
            for _ in range(args.runs):
                getattr(t, fault)()
                t0 = time.monotonic()
                sh([ROLLBACK, "--config", t.path, *argv, "--reason", "bench", "--yes"])
                times.append(time.monotonic() - t0)
                assert t.healthz() == 200 and t.nginx_test_ok(), f"{kind}: not healthy after the rollback"
            results[kind] = times
            print(f"  {kind:<9} " + " ".join(f"{x:.2f}" for x in times), file=sys.stderr)
    finally:
        if started:
            subprocess.run([PY, "-m", "sandbox", "down", "--purge"], cwd=PROJECT, env=env, capture_output=True)
    print(f"rollback command wall time, median of {args.runs} (fault injected before each); {describe_machine()}")
    print(f"{'type':<10}{'median s':>10}{'min s':>8}{'max s':>8}{'RTO target s':>14}")
    for kind, times in results.items():
        print(f"{kind:<10}{statistics.median(times):>10.2f}{min(times):>8.2f}{max(times):>8.2f}"
              f"{rto.get(kind, ''):>14}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
