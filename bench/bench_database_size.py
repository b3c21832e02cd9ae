"""Does the size of the orders table show in the database drill? Small table vs one million rows.

    .venv/bin/python bench/bench_database_size.py [--runs 3] [--rows 1000000]

Brings up a separate sandbox instance (the "dbsize" one of tests/sandbox_ids.py, derived from
AURA_SANDBOX_*; unset: state /var/tmp/aura-bench-dbsize, ports 19680-19684, containers
aura-bench-dbsize-*), so nobody's sandbox is touched, and purges it at the end. Runs the
database drill (`pytest drills/ -m staging -k database`, a temporary --reports-dir and --state-dir)
--runs times on the table as the sandbox has it, then fills `orders` with --rows more rows in SQL
(`INSERT … SELECT generate_series`), runs the drill --runs times again, and deletes exactly the
rows it added (their key range, and their item prefix), whatever happened.

For each run: the wall time of the pytest process (spawn to exit) and its peak RSS — `ru_maxrss`
from `os.wait4` on it: the largest resident set in its process tree, pytest's own being the largest
(the rollback and migrate commands it spawns are smaller). Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from machine_info import describe as describe_machine

PROJECT = Path(__file__).resolve().parents[1]
PY = str(PROJECT / ".venv" / "bin" / "python") if (PROJECT / ".venv" / "bin" / "python").exists() else sys.executable
sys.path.insert(0, str(PROJECT))  # for tests/sandbox_ids.py, where every extra sandbox is named
from tests.sandbox_ids import extra  # noqa: E402

SANDBOX_ENV = extra("dbsize").env()
ITEM_PREFIX = "bench-dbsize-"


def drill_once(env: dict[str, str]) -> tuple[float, float]:
    """(wall s, peak RSS MiB) of one database drill run; exits the bench if the drill fails."""
    with tempfile.TemporaryDirectory(prefix="bench-dbsize-") as tmp:
        argv = [PY, "-m", "pytest", "drills/", "-m", "staging", "-k", "database", "-q", "-p", "no:cacheprovider",
                "--reports-dir", f"{tmp}/reports", "--state-dir", f"{tmp}/state"]
        out = Path(tmp, "out.txt")
        with open(out, "wb") as f:
            t = time.monotonic()
            proc = subprocess.Popen(argv, cwd=PROJECT, env=env, stdout=f, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.monotonic() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            print(out.read_text()[-3000:], file=sys.stderr)
            raise SystemExit(f"the database drill failed (exit {proc.returncode})")
    return wall, usage.ru_maxrss / 1024


def runs(label: str, n: int, env: dict[str, str]) -> list[tuple[float, float]]:
    out = []
    for i in range(n):
        wall, rss = drill_once(env)
        print(f"  {label} run {i + 1}: {wall:.2f} s, peak RSS {rss:.0f} MiB", file=sys.stderr)
        out.append((wall, rss))
    return out


def table_figures(conn, table: str) -> tuple[int, int]:
    from psycopg import sql

    count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
    size = conn.execute("SELECT pg_total_relation_size(%s::regclass)", (table,)).fetchone()[0]
    return count, size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    import psycopg
    from psycopg import sql

    env = {**os.environ, **SANDBOX_ENV}
    env.pop("AURA_DRILL_STATE_DIR", None)
    print(f"bringing up a separate sandbox ({SANDBOX_ENV['AURA_SANDBOX_PREFIX']}) …", file=sys.stderr)
    r = subprocess.run([PY, "-m", "sandbox", "up"], cwd=PROJECT, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"sandbox up failed: {r.stderr[-1500:]}")
    cfg = tomllib.loads(Path(r.stdout.strip().splitlines()[-1]).read_text())
    url, table = cfg["database"]["url"], cfg["database"]["table"]
    t = sql.Identifier(table)
    try:
        small = runs("small table", args.runs, env)
        with psycopg.connect(url, autocommit=True) as conn:  # what the drills wrote included
            small_rows, small_size = table_figures(conn, table)

        print(f"filling {table} with {args.rows} rows …", file=sys.stderr)
        t0 = time.monotonic()
        with psycopg.connect(url, autocommit=True) as conn:
            lo, hi, added = conn.execute(sql.SQL(
                "WITH added AS (INSERT INTO {t} (item, quantity, customer) "
                "SELECT {p} || g || ' ' || repeat('x', 16), g %% 97 + 1, "
                "CASE WHEN g %% 3 = 0 THEN NULL ELSE 'customer-' || (g %% 5000) END "
                "FROM generate_series(1, %s) g RETURNING id) SELECT min(id), max(id), count(*) FROM added"
            ).format(t=t, p=sql.Literal(ITEM_PREFIX)), (args.rows,)).fetchone()
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(t))
            big_rows, big_size = table_figures(conn, table)
        fill_s = time.monotonic() - t0
        try:
            big = runs(f"{big_rows} rows", args.runs, env)
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                gone = conn.execute(sql.SQL("DELETE FROM {t} WHERE id BETWEEN %s AND %s AND item LIKE %s").format(t=t),
                                    (lo, hi, ITEM_PREFIX + "%")).rowcount
                conn.execute(sql.SQL("VACUUM {}").format(t))
                back_rows, _ = table_figures(conn, table)
            print(f"put the table back: deleted the {gone} rows added (of {added}); {back_rows} rows now",
                  file=sys.stderr)
    finally:
        subprocess.run([PY, "-m", "sandbox", "down", "--purge"], cwd=PROJECT, env=env, capture_output=True)

    def line(label: str, rows: int, size: int, results: list[tuple[float, float]]) -> str:
        walls, rss = [w for w, _ in results], [m for _, m in results]
        return (f"{label:<7}{rows:>10}{size / 2**20:>10.0f}{statistics.median(walls):>10.2f}{min(walls):>8.2f}"
                f"{max(walls):>8.2f}{statistics.median(rss):>10.0f}{max(rss):>8.0f}")

    print(f"database drill (pytest drills/ -m staging -k database), median of {args.runs}; {describe_machine()}")
    print(f"filling {added} rows took {fill_s:.1f} s (not in the figures)")
    print(f"{'table':<7}{'rows':>10}{'MiB':>10}{'wall s':>10}{'min':>8}{'max':>8}{'RSS MiB':>10}{'max':>8}")
    print(line("small", small_rows, small_size, small))
    print(line("large", big_rows, big_size, big))
    wall_delta = statistics.median([w for w, _ in big]) - statistics.median([w for w, _ in small])
    print(f"difference: wall {wall_delta:+.2f} s, "
          f"peak RSS {max(m for _, m in big) - max(m for _, m in small):+.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
