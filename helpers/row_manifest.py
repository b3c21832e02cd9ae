"""What a row snapshot knows: the table's columns and, per chunk of its primary key, the last key,
the row count and the sum of the rows' hashes (helpers/table_rows.py says how they are made), kept
in `manifest.json` beside the chunks' COPY files. A manifest means a complete backup: it is
written last.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.atomic import atomic_write_json

__all__ = ["CHUNK_ROWS", "FORMAT", "MANIFEST", "Chunk", "Manifest", "empty_digest", "load", "table_digest"]

CHUNK_ROWS = 50_000           # keys per chunk: one chunk's statement stays well under the timeout
MANIFEST = "manifest.json"
FORMAT = 2                    # 1 was the JSON row backup (rows.json) of the in-memory snapshot


@dataclass(frozen=True)
class Chunk:
    hi: str       # the chunk's last key, in PostgreSQL's text form (the next chunk starts above it)
    rows: int
    hash: str     # the sum of the rows' hashes, as decimal text (numeric: it does not overflow)
    file: str     # the chunk's COPY text, in the backup folder

    def to_dict(self) -> dict[str, Any]:
        return {"hi": self.hi, "rows": self.rows, "hash": self.hash, "file": self.file}


def table_digest(columns: Sequence[Sequence[str]], parts: Sequence[tuple[str, int, str]]) -> str:
    h = hashlib.sha256()
    for name, type_ in columns:
        h.update(f"column\t{name}\t{type_}\n".encode())
    for hi, rows, sum_ in parts:
        h.update(f"chunk\t{hi}\t{rows}\t{sum_}\n".encode())
    return "sha256:" + h.hexdigest()


def empty_digest() -> str:
    """The digest of no rows at all (a fingerprint that leaves the rows out)."""
    return table_digest([], [])


@dataclass(frozen=True)
class Manifest:
    folder: Path
    table: str
    pk: str
    columns: tuple[tuple[str, str], ...]     # (name, format_type) in table order
    chunks: tuple[Chunk, ...]

    @property
    def row_count(self) -> int:
        return sum(c.rows for c in self.chunks)

    @property
    def digest(self) -> str:
        return table_digest(self.columns, [(c.hi, c.rows, c.hash) for c in self.chunks])

    def ranges(self) -> Iterator[tuple[str | None, Chunk]]:
        """(exclusive low key or None, chunk) for each chunk, in key order."""
        lo = None
        for chunk in self.chunks:
            yield lo, chunk
            lo = chunk.hi

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "table": self.table, "pk": self.pk,
                "columns": [list(c) for c in self.columns], "chunk_rows": CHUNK_ROWS,
                "chunks": [c.to_dict() for c in self.chunks], "row_count": self.row_count,
                "digest": self.digest}

    def save(self) -> None:
        atomic_write_json(self.folder / MANIFEST, self.to_dict(), mode=0o600)


def load(folder: str | os.PathLike[str]) -> Manifest:
    """The backup a snapshot wrote into `folder`; ValueError when it is none (or incomplete)."""
    import json

    folder = Path(folder)
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        raise ValueError(f"{folder}: not a row backup (no {MANIFEST})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{folder}: not a row backup of format {FORMAT}")
    return Manifest(folder, data["table"], data["pk"], tuple(tuple(c) for c in data["columns"]),
                    tuple(Chunk(**c) for c in data["chunks"]))
