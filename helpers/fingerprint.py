"""The target's state, read afresh: the snapshot taken before a fault and the proof of a restore.

A Fingerprint names what a drill may change: each service container's image (reference and ID:
`:stable` and `:v1.0.0` may be one image, so IDs are what counts) and a digest of its whole
definition (a restore that loses a setting is not a restore), the nginx config and upstream
include (sha256), the active pool, the database revision, and a digest of the table's rows that
existed at snapshot time. `diff()` names every field that differs, for the "restore failed" line.

The table's rows are digested, backed up and put back by `helpers.table_rows`, chunk by chunk and
in PostgreSQL, whatever the table's size: the snapshot's digest and its backup come from one
database snapshot, and a fresh read digests only the rows present at snapshot (the backup's keys),
so rows written during the drill are left out. `rows_digest()` and `read_rows()` are for small,
named sets of rows (the RPO check's acknowledged writes), never for the whole table.

The Docker and PostgreSQL readers are kept small and import their libraries when called.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from helpers import table_rows
from helpers.compose import compose_of, drift
from helpers.container_definition import changes
from helpers.database import REVISION_SQL, Database, revision_of
from helpers.engine_api import Engine
from helpers.file_digest import sha256_file
from helpers.front import Front
from helpers.table_rows import Manifest, RestoreReport, RowDamage

if TYPE_CHECKING:
    from helpers.config import TargetConfig

__all__ = ["ContainerState", "Fingerprint", "RestoreReport", "RowDamage", "active_pool", "backup_rows",
           "canonical_row", "diff", "load_backup", "read_containers", "read_db_revision", "read_fingerprint",
           "read_rows", "restore_rows", "rows_digest", "sha256_file", "snapshot", "snapshot_rows_damage"]

DB_TIMEOUT_S = table_rows.CONNECT_TIMEOUT_S
DB_STATEMENT_TIMEOUT_S = table_rows.STATEMENT_TIMEOUT_S  # one statement; a chunk's at the most
DB_BOUND_S = DB_TIMEOUT_S + DB_STATEMENT_TIMEOUT_S   # one connect and one statement, at the most
# Every statement bounded too: a lock left by a bad or killed migration must not hang a restore.
DB_OPTIONS = f"-c statement_timeout={DB_STATEMENT_TIMEOUT_S * 1000} -c lock_timeout=5000"


# -- the fingerprint --------------------------------------------------------------------------

@dataclass(frozen=True)
class ContainerState:
    ref: str          # the image reference the container was created from (Config.Image)
    image_id: str     # the image it actually runs
    status: str       # engine state ("running", "exited", ...), "missing" when not found
    # sha256 of its whole normalised definition (helpers.container_definition): command, mounts,
    # limits, capabilities, healthcheck, logging, labels, networks... "" when missing.
    definition: str = ""
    # The definition itself, to name what changed; not part of the comparison nor of to_dict (the
    # digest stands for it there).
    settings: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, str]:
        return {"ref": self.ref, "image_id": self.image_id, "status": self.status, "definition": self.definition}


@dataclass(frozen=True)
class Fingerprint:
    containers: Mapping[str, ContainerState]   # service key ("api_v1") -> state
    nginx_conf_sha256: str | None              # None: file missing
    upstream_include_sha256: str | None
    active_pool: str | None
    db_revision: str | None                    # None: no alembic_version table
    rows_digest: str
    row_count: int
    # With [compose]: sha256 of each compose file and of the env file (path -> digest, None: missing),
    # and per service container whether compose sees it in sync ("in sync", or what drifted).
    compose_files: Mapping[str, str | None] = field(default_factory=dict)
    compose_sync: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"containers": {k: v.to_dict() for k, v in sorted(self.containers.items())},
                "nginx_conf_sha256": self.nginx_conf_sha256,
                "upstream_include_sha256": self.upstream_include_sha256,
                "active_pool": self.active_pool, "db_revision": self.db_revision,
                "rows_digest": self.rows_digest, "row_count": self.row_count,
                "compose_files": dict(self.compose_files), "compose_sync": dict(self.compose_sync)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fingerprint:
        return cls(containers={k: ContainerState(**v) for k, v in data["containers"].items()},
                   nginx_conf_sha256=data["nginx_conf_sha256"],
                   upstream_include_sha256=data["upstream_include_sha256"],
                   active_pool=data["active_pool"], db_revision=data["db_revision"],
                   rows_digest=data["rows_digest"], row_count=int(data["row_count"]),
                   compose_files=data.get("compose_files") or {}, compose_sync=data.get("compose_sync") or {})


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def diff(a: Fingerprint, b: Fingerprint) -> list[str]:
    """One line per differing field, `field: <a> -> <b>` (a: the snapshot, b: now). A container
    definition that differs also names the settings that changed, when both sides know them."""
    fa, fb = _flatten(a.to_dict()), _flatten(b.to_dict())
    names = list(fa) + [n for n in fb if n not in fa]
    missing = "(absent)"
    lines = []
    for n in names:
        if fa.get(n, missing) == fb.get(n, missing):
            continue
        line = f"{n}: {fa.get(n, missing)} -> {fb.get(n, missing)}"
        key = n.removeprefix("containers.").removesuffix(".definition")
        if n == f"containers.{key}.definition" and key in a.containers and key in b.containers:
            before, after = a.containers[key].settings, b.containers[key].settings
            if before is not None and after is not None:
                line += " (" + "; ".join(changes(before, after)[:8]) + ")"
        lines.append(line)
    return lines


# -- pure pieces ------------------------------------------------------------------------------

def _canonical(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # JSON has no NaN/Infinity
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()  # PostgreSQL's bytea hex input form
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return str(value)


def canonical_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as JSON-ready plain values; canonical_row(canonical_row(r)) == canonical_row(r)."""
    return {str(k): _canonical(v) for k, v in row.items()}


def _sort_key(value: Any) -> tuple[str, Any]:
    return (type(value).__name__, value if isinstance(value, (int, float, str)) else str(value))


def rows_digest(rows: Iterable[Mapping[str, Any]], pk: str = "id") -> str:
    """sha256 over the rows' canonical JSON, ordered by primary key (input order is irrelevant).
    For rows already in memory; the table's own digest is computed in PostgreSQL (table_rows)."""
    canon = sorted((canonical_row(r) for r in rows), key=lambda r: _sort_key(r.get(pk)))
    h = hashlib.sha256()
    for row in canon:
        h.update(json.dumps(row, sort_keys=True, separators=(",", ":"),
                            ensure_ascii=False).encode())
        h.update(b"\n")
    return "sha256:" + h.hexdigest()


_SERVER = re.compile(r"^\s*server\s+([^\s;]+)", re.MULTILINE)


def active_pool(include_text: str, upstreams: Iterable[tuple[str, str]]) -> str | None:
    """Which pool the upstream include sends traffic to, from its `server HOST:PORT` lines.

    One pool's address: that pool. Several: their names joined with "+". An address that is
    no pool's: "unknown(ADDR)". No server line: None.
    """
    by_address = {addr: pool for pool, addr in upstreams}
    text = "\n".join(line.split("#", 1)[0] for line in include_text.splitlines())
    names = []
    for address in _SERVER.findall(text):
        name = by_address.get(address, f"unknown({address})")
        if name not in names:
            names.append(name)
    return "+".join(names) if names else None


# -- readers (Docker, files, PostgreSQL) ------------------------------------------------------

def read_containers(engine: Engine, services: Iterable[tuple[str, str]]) -> dict[str, ContainerState]:
    out = {}
    for key, name in services:
        found = engine.container_definition(name)
        out[key] = (ContainerState("", "", "missing") if found is None
                    else ContainerState(found.ref, found.image_id, found.status, found.digest, found.definition))
    return out


def _identifier(name: str) -> Any:
    from psycopg import sql
    return sql.Identifier(*name.split("."))


def read_db_revision(url: str, revision_sql: str = REVISION_SQL) -> str | None:
    """The schema's revision(s) by `revision_sql` (`[database] revision_sql`), comma-joined, on a
    session of its own; None when its table does not exist. (A run reads it through its Target's
    helpers.database.Database.)"""
    with Database(url, revision_sql).connect() as conn:
        return revision_of(conn, revision_sql)


def read_rows(url: str, table: str, pk: str = "id",
              ids: Sequence[Any] | None = None) -> list[dict[str, Any]]:
    """Rows of `table` as canonical dicts, ORDER BY the primary key; only `ids` when given."""
    if ids is not None and len(ids) == 0:
        return []
    import psycopg
    from psycopg import sql
    from psycopg.rows import dict_row

    query = sql.SQL("SELECT * FROM {t}").format(t=_identifier(table))
    params: tuple[Any, ...] = ()
    if ids is not None:
        query += sql.SQL(" WHERE {pk} = ANY(%s)").format(pk=sql.Identifier(pk))
        params = (list(ids),)
    query += sql.SQL(" ORDER BY {pk}").format(pk=sql.Identifier(pk))
    with psycopg.connect(url, connect_timeout=DB_TIMEOUT_S, options=DB_OPTIONS, row_factory=dict_row) as conn:
        return [canonical_row(r) for r in conn.execute(query, params).fetchall()]


def _fingerprint(cfg: TargetConfig, front: Front, database: Database, engine: Engine, digest: str,
                 row_count: int) -> Fingerprint:
    include = cfg.nginx.upstream_include
    include_bytes: bytes | None
    try:
        include_bytes = front.read_bytes(include)
        pool = active_pool(include_bytes.decode("utf-8"), cfg.upstreams.items())
    except FileNotFoundError:
        include_bytes, pool = None, None
    containers = read_containers(engine, cfg.services.items())
    compose_files, compose_sync = _compose_state(cfg, front, containers)
    return Fingerprint(
        containers=containers,
        nginx_conf_sha256=front.sha256(cfg.nginx.conf),
        upstream_include_sha256=(None if include_bytes is None
                                 else "sha256:" + hashlib.sha256(include_bytes).hexdigest()),
        active_pool=pool,
        db_revision=database.revision(),
        rows_digest=digest,
        row_count=row_count,
        compose_files=compose_files,
        compose_sync=compose_sync,
    )


def compose_paths(cfg: TargetConfig) -> list[str]:
    """The compose files and the env file, as [compose] names them (none without it)."""
    if cfg.compose is None:
        return []
    return [str(p) for p in (*cfg.compose.files, *([cfg.compose.env_file] if cfg.compose.env_file else []))]


def _compose_state(cfg: TargetConfig, front: Front, containers: Mapping[str, ContainerState]
                   ) -> tuple[dict[str, str | None], dict[str, str]]:
    """With [compose]: the files' digests, and each service container's config-hash label against
    `config --hash` computed from the files as they are now (compose's own drift test)."""
    compose = compose_of(cfg, front)
    if compose is None:
        return {}, {}
    names = dict(cfg.services.items())
    # The two compose commands at once: each one pings the engine and asks its /info before it
    # answers (compose does that for every command, `config` too), ~0.2-0.4 s each on Podman.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="aura-compose") as pool:
        services = pool.submit(compose.services_of, names.values())
        hashes = pool.submit(compose.config_hashes)
        files = {p: front.sha256(p) for p in compose_paths(cfg)}
        service_of, config_hashes = services.result(), hashes.result()
    labels_of = {names[key]: (None if state.status == "missing"
                              else dict(((state.settings or {}).get("Config") or {}).get("Labels") or {}))
                 for key, state in containers.items()}
    return files, drift(labels_of, service_of, config_hashes)


def _manifest(backup: str | os.PathLike[str] | Manifest) -> Manifest:
    return backup if isinstance(backup, Manifest) else table_rows.load(backup)


def read_fingerprint(cfg: TargetConfig, front: Front, database: Database, engine: Engine, *,
                     backup: str | os.PathLike[str] | Manifest | None = None) -> Fingerprint:
    """Everything afresh from the target (the nginx files from its `front`, the revision from its
    `database`). `backup`: the snapshot's row backup; the rows it holds are digested as they are now
    (rows written since are left out, as they were at snapshot time). Without it the rows are left
    out altogether (preflight, end-state checks)."""
    if backup is None:
        return _fingerprint(cfg, front, database, engine, table_rows.empty_digest(), 0)
    digest, count = table_rows.fresh_digest(cfg.database.url, _manifest(backup))
    return _fingerprint(cfg, front, database, engine, digest, count)


def snapshot(cfg: TargetConfig, front: Front, database: Database, engine: Engine,
             backup_path: str | os.PathLike[str], pk: str = "id") -> Fingerprint:
    """Back up the table's rows, then fingerprint the target with their digest (digest and backup
    are read in one database snapshot: they cannot disagree)."""
    manifest = backup_rows(cfg.database.url, cfg.database.table, backup_path, pk)
    return _fingerprint(cfg, front, database, engine, manifest.digest, manifest.row_count)


# -- row backup and restore (helpers.table_rows does the work) --------------------------------

def backup_rows(url: str, table: str, path: str | os.PathLike[str], pk: str = "id") -> Manifest:
    """Stream every row of `table` into the folder `path` (chunk files and a manifest, mode 0600:
    the rows are the target's data), with each chunk's digest."""
    return table_rows.backup(url, table, path, pk)


def load_backup(path: str | os.PathLike[str]) -> Manifest:
    return table_rows.load(path)


def snapshot_rows_damage(url: str, table: str, backup: str | os.PathLike[str] | Manifest) -> RowDamage:
    """Snapshot rows now missing or different from the backup (chunk digests compared first; only
    the chunks that differ are looked at row by row). At most table_rows.PASS_BOUND_S seconds."""
    manifest = _manifest(backup)
    if manifest.table != table:
        raise ValueError(f"the backup is of table {manifest.table}, not {table}")
    return table_rows.damage(url, manifest)


def restore_rows(url: str, table: str, backup: str | os.PathLike[str] | Manifest,
                 pk: str = "id") -> RestoreReport:
    """Put the backup's lost or changed rows back by primary key, in one transaction, only in the
    chunks whose digest differs. Rows not in the backup (the drill's acknowledged writes) are never
    touched or deleted; rows equal to their backup are not rewritten; a serial key's sequence is
    moved past the keys put back."""
    manifest = _manifest(backup)
    if (manifest.table, manifest.pk) != (table, pk):
        raise ValueError(f"the backup is of {manifest.table}.{manifest.pk}, not {table}.{pk}")
    return table_rows.restore(url, manifest)
