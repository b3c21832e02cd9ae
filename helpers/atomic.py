"""Files written whole or not at all.

The journal and the results JSON are read by a later run or another tool; a run killed mid-write
must leave either the old file or the new one, never half of one. Write a temporary file in the
same directory (same filesystem, so the rename is atomic), fsync it, rename it over the target.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_json", "atomic_write_text"]


def atomic_write_text(path: str | os.PathLike[str], text: str, mode: int = 0o644) -> Path:
    """Readers see the old file or the new one, never half. `mode`: a report keeps the usual
    0644 (mkstemp would make it 0600), its 0700 folder keeps others out (private_folder.py); a row
    backup passes 0o600 because its folder may be someone else's to list."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)
    return target


def atomic_write_json(path: str | os.PathLike[str], data: Any, mode: int = 0o644) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n", mode)
