"""Move the sandbox schema up or down to exactly one Alembic revision.

    python -m sandbox.auraflow.tools.migrate --config SANDBOX_TOML REVISION

`sandbox/auraflow/scripts/migrate.sh` is the shell entry point the config's `[commands] migrate` names.
Exit codes: 0 done (or already there), 2 usage / unknown revision, 3 database unreachable,
4 migration failed.
"""
from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from .cli import refuse_undecodable
from .errors import UsageError

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def sqlalchemy_url(libpq_url: str) -> str:
    # SQLAlchemy picks its driver from the scheme; the config holds a plain libpq URI.
    return "postgresql+psycopg://" + libpq_url.split("://", 1)[1]


def _alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # '%' is ConfigParser interpolation syntax; a password may contain it.
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return cfg


def ordered_revisions() -> list[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(cfg)
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def current_revision(url: str) -> str | None:
    import psycopg

    with psycopg.connect(url, connect_timeout=3) as conn:
        exists = conn.execute("SELECT to_regclass('public.alembic_version')").fetchone()
        if not exists or not exists[0]:
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None


def migrate_to(url: str, target: str, log=lambda line: None) -> tuple[str | None, str | None]:
    """Upgrade or downgrade to `target`; returns (revision before, revision after)."""
    before = current_revision(url)
    if before == target:  # asked first: a no-op needs no Alembic (importing it costs ~0.4 s)
        log(f"migrate: already at {target}")
        return before, target
    from alembic import command

    order = ordered_revisions()
    if target not in order:
        raise ValueError(f"unknown revision {target!r} (known: {', '.join(order)})")
    cfg = _alembic_config(url)
    if before is None or order.index(target) > order.index(before):
        log(f"migrate: upgrade {before or 'empty'} -> {target}")
        command.upgrade(cfg, target)
    else:
        log(f"migrate: downgrade {before} -> {target}")
        command.downgrade(cfg, target)
    return before, current_revision(url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="migrate.sh", description="Move the schema to exactly REVISION.")
    parser.add_argument("--config", required=True, help="the target config (TOML) naming [database] url")
    parser.add_argument("revision")
    try:
        refuse_undecodable(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        print(f"migrate: {exc.message}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        url = tomllib.loads(Path(args.config).read_text())["database"]["url"]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
        print(f"migrate: cannot read [database] url from {args.config}: {exc}", file=sys.stderr)
        return 2
    import psycopg

    log = lambda line: print(line, file=sys.stderr)  # noqa: E731
    try:
        before, after = migrate_to(url, args.revision, log)
    except ValueError as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as exc:
        host = url.rsplit("@", 1)[-1]
        print(f"migrate: database unreachable at {host}: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 3
    except Exception as exc:  # alembic/sqlalchemy failures: report one line, keep the exit code distinct
        print(f"migrate: migration to {args.revision} failed: {type(exc).__name__}: {str(exc).splitlines()[0]}",
              file=sys.stderr)
        return 4
    print(f"schema at {after} (was {before or 'empty'})")
    return 0 if after == args.revision else 4


if __name__ == "__main__":
    sys.exit(main())
