"""Put a target back to a snapshot with the suite's own means, never the rollback under test.

Order: database revision (migrate command), rows (by primary key from the backup), service
containers (exact image by ID, each a clone of its snapshot's definition, through the engine's
API), nginx files (+ `nginx -t` + reload, or start when down). Each step is bounded and runs
even when an earlier one failed; the caller then reads the fingerprint afresh and compares it
with the snapshot — that comparison, not the steps' own success, decides whether the restore
worked.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from helpers import commands, nginx_ops
from helpers.compose import OVERRIDE_NAME, compose_of
from helpers.config import TargetConfig
from helpers.container_swap import restore_container
from helpers.database import Database
from helpers.engine_api import ContainerDefinition, Engine
from helpers.file_digest import sha256_file
from helpers.fingerprint import Fingerprint, compose_paths, load_backup, restore_rows
from helpers.front import Front

MIGRATE_TIMEOUT_S = 120


@dataclass
class SavedFiles:
    """Copies of the nginx files taken at snapshot time (the fingerprint only has their hashes)."""
    folder: Path

    @property
    def conf(self) -> Path:
        return self.folder / "nginx.conf.saved"

    @property
    def backup(self) -> Path:
        return self.folder / "nginx.conf.backup.saved"

    @property
    def include(self) -> Path:
        return self.folder / "upstream.include.saved"

    @property
    def rows(self) -> Path:
        """The row backup: a folder of chunk files and their manifest (helpers.table_rows)."""
        return self.folder / "rows"

    @property
    def override(self) -> Path:
        """The image fault's compose override (a file of the drill's own; deleted by the restore)."""
        return self.folder / OVERRIDE_NAME

    def compose_copies(self, cfg: TargetConfig) -> list[tuple[str, Path]]:
        """(live path, its copy here) for each compose file and the env file ([compose])."""
        return [(live, self.folder / f"compose-{i}-{Path(live).name}.saved")
                for i, live in enumerate(compose_paths(cfg))]

    def save(self, cfg: TargetConfig, front: Front) -> None:
        """Copies of the front's nginx files, and with [compose] of the team's compose files and env
        file (the runbook's `cp docker-compose.staging.yml ….backup`), read through the target's
        front, kept here."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for live, copy in self.compose_copies(cfg):
            copy.write_bytes(front.read_bytes(live))
        self.conf.write_bytes(front.read_bytes(cfg.nginx.conf))
        self.include.write_bytes(front.read_bytes(cfg.nginx.upstream_include))
        try:
            self.backup.write_bytes(front.read_bytes(cfg.nginx.backup))
        except FileNotFoundError:
            self.backup.unlink(missing_ok=True)


@dataclass
class RestoreLog:
    steps: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)   # service keys whose container was recreated

    def did(self, text: str) -> None:
        self.steps.append(text)

    def failed(self, text: str) -> None:
        self.problems.append(text)


def _copy_back(saved: Path, live: str | Path, log: RestoreLog, front: Front) -> bool:
    if front.sha256(live) == sha256_file(saved):
        return False
    # Atomic on the front (temp beside it, then rename), keeping the live file's mode: a real
    # host's nginx.conf is not ours.
    front.write_bytes(live, saved.read_bytes())
    log.did(f"put back {live}")
    return True


@dataclass(frozen=True)
class ContainerMemo:
    """What the snapshot knew of the service containers beyond the fingerprint: their whole
    definitions (to clone each back, or create one again that a killed run left missing) and IDs
    (to know our own set-aside ones)."""
    definitions: dict[str, ContainerDefinition]
    ids: frozenset[str]

    def to_dict(self) -> dict:
        return {"definitions": {k: v.to_dict() for k, v in self.definitions.items()}, "ids": sorted(self.ids)}

    @classmethod
    def from_dict(cls, data: dict | None) -> ContainerMemo:
        data = data or {}
        return cls({k: ContainerDefinition.from_dict(v) for k, v in (data.get("definitions") or {}).items()},
                   frozenset(data.get("ids") or ()))

    @classmethod
    def read(cls, cfg: TargetConfig, engine: Engine) -> ContainerMemo:
        definitions, ids = {}, set()
        for key, name in cfg.services.items():
            found = engine.container_definition(name)
            if found is not None:
                definitions[key] = found
            cid = engine.container_id(name)
            if cid:
                ids.add(cid)
        return cls(definitions, frozenset(ids))


def restore(cfg: TargetConfig, front: Front, database: Database, engine: Engine, snap: Fingerprint,
            saved: SavedFiles, memo: ContainerMemo | None = None) -> RestoreLog:
    log = RestoreLog()
    memo = memo or ContainerMemo({}, frozenset())
    _restore_database(cfg, database, snap, saved, log)
    if cfg.compose is not None:
        _restore_compose(cfg, front, engine, snap, saved, log)
    else:
        _restore_containers(cfg, engine, snap, memo, log)
    _restore_nginx(cfg, front, saved, log)
    return log


def _restore_database(cfg: TargetConfig, database: Database, snap: Fingerprint, saved: SavedFiles,
                      log: RestoreLog) -> None:
    try:
        current = database.revision()
        if snap.db_revision and current != snap.db_revision:
            r = commands.run(cfg.commands.migrate, [snap.db_revision], timeout=MIGRATE_TIMEOUT_S)
            (log.did if r.ok else log.failed)(f"migrate {current} -> {snap.db_revision}: exit {r.exit_code}")
        if saved.rows.exists():
            report = restore_rows(cfg.database.url, cfg.database.table, load_backup(saved.rows),
                                  pk=cfg.database.primary_key)
            if report.repaired:
                log.did(f"rows put back by primary key: {report.inserted_count} lost, "
                        f"{report.updated_count} changed ({report.chunks} chunks differed)")
    except Exception as e:  # keep going: the other parts must still be restored
        log.failed(f"database: {type(e).__name__}: {e}")


def _restore_containers(cfg: TargetConfig, engine: Engine, snap: Fingerprint, memo: ContainerMemo,
                        log: RestoreLog) -> None:
    for key, want in snap.containers.items():
        name = getattr(cfg.services, key)
        saved = memo.definitions.get(key)
        try:
            if saved is None:
                if want.status != "missing":
                    log.failed(f"container {name}: the snapshot kept no definition of it to restore from")
                continue
            # A no-op when the container already is the snapshot's (image, reference and whole
            # definition); a missing container is created again from the snapshot's definition.
            if restore_container(engine, name, saved).changed:
                log.did(f"{name}: back to {want.ref} ({want.image_id[:19]}) as a clone of its snapshot")
                log.recreated.append(key)
            for left in engine.leftovers_beside(name, memo.ids):
                if left.ours:  # a swap of ours killed half-way: the service is back, this is not needed
                    engine.remove_container(left.id)
                    log.did(f"removed {left.name}, set aside by an interrupted swap")
        except Exception as e:
            log.failed(f"container {name}: {type(e).__name__}: {e}")


def _restore_compose(cfg: TargetConfig, front: Front, engine: Engine, snap: Fingerprint, saved: SavedFiles,
                     log: RestoreLog) -> None:
    """The runbook's recovery: the saved compose files and env file put back, the drill's override
    deleted, then `up -d --no-deps` for the [services] containers' services: compose recreates
    what its files no longer describe (the fault's container) and leaves the rest alone."""
    compose = compose_of(cfg, front)
    assert compose is not None
    try:
        for live, copy in saved.compose_copies(cfg):
            if copy.exists():
                _copy_back(copy, live, log, front)
        if front.remove(saved.override):
            log.did(f"deleted the override {saved.override}")
        names = dict(cfg.services.items())
        before = {key: engine.container_id(name) for key, name in names.items()}
        service_of = compose.services_of(names.values())
        compose.up([service_of[name] for name in names.values()])
        for key, name in names.items():
            if engine.container_id(name) != before[key]:
                log.did(f"{name}: recreated by compose up -d --no-deps {service_of[name]}")
                log.recreated.append(key)
        # compose leaves alone a container whose labels claim its files' config hash, even when its
        # definition is not the snapshot's (a rollback that recreated it through the Engine API and
        # copied compose's labels): such a one is recreated by force, from the restored files.
        stale = [key for key, name in names.items()
                 if key in snap.containers and snap.containers[key].definition
                 and (found := engine.container_definition(name)) is not None
                 and found.digest != snap.containers[key].definition]
        if stale:
            compose.recreate([service_of[names[key]] for key in stale])
            for key in stale:
                log.did(f"{names[key]}: definition not the snapshot's; recreated by compose up -d --no-deps "
                        f"--force-recreate {service_of[names[key]]}")
                if key not in log.recreated:
                    log.recreated.append(key)
    except Exception as e:
        log.failed(f"compose: {type(e).__name__}: {e}")


def _restore_nginx(cfg: TargetConfig, front: Front, saved: SavedFiles, log: RestoreLog) -> None:
    try:
        _copy_back(saved.conf, cfg.nginx.conf, log, front)
        _copy_back(saved.include, cfg.nginx.upstream_include, log, front)
        if saved.backup.exists():
            _copy_back(saved.backup, cfg.nginx.backup, log, front)
        test = nginx_ops.config_test(front, cfg)
        if not test.ok:
            log.failed(f"nginx -t fails after putting the files back: {test.stderr.strip()[-300:]}")
            return
        # Reload, or start nginx when it is down (apply falls back to start by itself). A reload is
        # done even when the files were already right: the running config may not be them.
        applied = nginx_ops.apply(front, cfg)
        (log.did if applied.ok else log.failed)(f"nginx reload/start: exit {applied.exit_code}")
    except Exception as e:
        log.failed(f"nginx: {type(e).__name__}: {e}")
