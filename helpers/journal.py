"""The on-disk journal of an in-flight drill.

Written (atomically) after the snapshot and before any fault: which drill, the snapshot's
fingerprint, and where the row backup is. Cleared only after the restore was verified. A run
killed mid-drill (CI timeout, OOM, Ctrl-C twice) leaves it behind, and the next run restores
from it before anything else: the journal is how staging gets back to baseline when no finalizer
ran. It is never the source of truth for "restored": the fingerprint is read afresh for that.

Versions: the journal's format covers everything it points to — the row backup (its own format,
helpers.row_manifest.FORMAT), the container definitions (helpers.container_definition's
DEFINITION_FORMAT) and the saved nginx files. Each journal records those versions (`covers`); one
written by another version of the suite (another format, or anything it points to at another
version) is refused in one line that names the file, what to check on staging, and how to clear it.
It is never half-restored: a restore that cannot read what it points to would leave staging worse.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.atomic import atomic_write_json
from helpers.clock import REAL, Clock, iso_utc
from helpers.container_definition import DEFINITION_FORMAT
from helpers.row_manifest import FORMAT as ROWS_FORMAT

__all__ = ["JOURNAL_COVERS", "JOURNAL_FORMAT", "Journal", "JournalEntry", "JournalError", "JournalVersionError"]

# 1: image reference and ID of each container, with a few of its settings; row backups as rows.json
#    and then (without a bump, the bug issue 20 names) as chunk folders of format 2.
# 2: whole container definitions, row backups of format 2, the saved nginx files.
JOURNAL_FORMAT = 2
JOURNAL_COVERS = {"rows": ROWS_FORMAT, "definitions": DEFINITION_FORMAT, "files": 1}


class JournalError(Exception):
    """An unreadable journal, or a write that would hide a pending one."""


class JournalVersionError(JournalError):
    """A journal written by another version of the suite: refused, never half-restored."""


@dataclass(frozen=True)
class JournalEntry:
    drill_id: str
    target: str                       # [target] name: never restore one target from another's
    fingerprint: Mapping[str, Any]    # Fingerprint.to_dict() of the snapshot
    backup_path: str                  # the row backup of the snapshot (a folder: chunks + manifest)
    written_at: str                   # ISO-8601 UTC
    pid: int = 0                      # the writing process, for the message of the next run
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"format": JOURNAL_FORMAT, "covers": dict(JOURNAL_COVERS), "drill_id": self.drill_id,
                "target": self.target,
                "fingerprint": dict(self.fingerprint), "backup_path": self.backup_path,
                "written_at": self.written_at, "pid": self.pid, "extra": dict(self.extra)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JournalEntry:
        if data.get("format") != JOURNAL_FORMAT or data.get("covers") != JOURNAL_COVERS:
            raise JournalVersionError(_other_version(data))
        try:
            return cls(drill_id=str(data["drill_id"]), target=str(data["target"]),
                       fingerprint=dict(data["fingerprint"]), backup_path=str(data["backup_path"]),
                       written_at=str(data["written_at"]), pid=int(data.get("pid", 0)),
                       extra=dict(data.get("extra", {})))
        except (KeyError, TypeError, ValueError) as e:
            raise JournalError(f"journal field missing or wrong: {e}") from None


class Journal:
    def __init__(self, path: str | os.PathLike[str], clock: Clock = REAL) -> None:
        self.path = Path(path)
        self.clock = clock

    def pending(self) -> bool:
        return self.path.exists()

    def write(self, drill_id: str, target: str, fingerprint: Mapping[str, Any],
              backup_path: str | os.PathLike[str], *, extra: Mapping[str, Any] | None = None,
              ) -> JournalEntry:
        """Record the drill about to fault the target. Refuses to overwrite a pending journal:
        that drill's restore information would be lost."""
        if self.pending():
            pending = self._describe_pending()
            raise JournalError(f"{self.path}: a journal is pending ({pending}); "
                               "restore from it before starting another drill")
        entry = JournalEntry(drill_id, target, dict(fingerprint), str(backup_path),
                             iso_utc(self.clock.now()), os.getpid(), dict(extra or {}))
        # 0600: the container settings it keeps include their environment (a database URL).
        atomic_write_json(self.path, entry.to_dict(), mode=0o600)
        return entry

    def read(self) -> JournalEntry | None:
        """The pending entry, or None. A corrupt journal raises: it must not be silently lost."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise JournalError(f"{self.path}: not valid JSON ({e}); "
                               "restore the target by hand, then delete it") from None
        if not isinstance(data, dict):
            raise JournalError(f"{self.path}: not a JSON object")
        try:
            return JournalEntry.from_dict(data)
        except JournalVersionError as e:
            extra = data.get("extra")
            saved = extra.get("saved") if isinstance(extra, dict) else None
            clear = f"delete {self.path}" + (f" and the folder {saved}" if saved else "")
            raise JournalVersionError(f"{self.path}: {e}; then {clear}") from None
        except JournalError as e:
            raise JournalError(f"{self.path}: {e}") from None

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def _describe_pending(self) -> str:
        try:
            entry = self.read()
        except JournalError as e:
            return str(e)
        return "unreadable" if entry is None else f"drill {entry.drill_id} at {entry.written_at}"


def _other_version(data: Mapping[str, Any]) -> str:
    """Why a journal of another suite version is not restored, and what a person checks instead."""
    version = data.get("format")
    covers = data.get("covers")
    what = (f"format {version!r}" if version != JOURNAL_FORMAT
            else f"format {version} pointing to {covers!r}, not {JOURNAL_COVERS!r}")
    drill = data.get("drill_id", "?")
    return (f"a journal of {what}, written by another version of the suite (drill {drill}), is not restored "
            "by this one: check on staging that each service container runs its baseline image with its "
            "settings, that the schema revision, the rows and the nginx files are the baseline's, and that "
            "traffic is on api_v1")
