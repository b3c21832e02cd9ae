"""Mounts a killed engine leaves behind under the state folder, and their removal.

dockerd bind-mounts its network namespace (`exec/netns/default`, nsfs) and its containers' root
filesystems (overlay) under its exec and data roots. A dockerd that was killed, or a run that was
killed while dockerd was starting, leaves them mounted: `rm -r` then fails with EBUSY, so
`down --purge` could not purge. Only mounts under the sandbox's own folder are touched.
"""
from __future__ import annotations

import subprocess
from pathlib import Path


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes (\040 ...)
    return field.encode().decode("unicode_escape")


def mounts_under(root: Path) -> list[Path]:
    """The mount points at or below `root`, deepest first (so children go before parents)."""
    base = root.resolve()
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            point = Path(_unescape(line.split()[4]))
            if point == base or base in point.parents:
                found.append(point)
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def unmount_under(root: Path) -> list[Path]:
    """Detach every mount at or below `root` (lazily: a mount still in use goes once released);
    returns what was unmounted. A mount that cannot be detached is an error naming it."""
    done = []
    for point in mounts_under(root):
        result = subprocess.run(["umount", "-l", str(point)], capture_output=True, text=True, check=False)
        if result.returncode != 0 and point in mounts_under(root):
            raise OSError(f"cannot unmount {point}: {result.stderr.strip() or f'umount exited {result.returncode}'}")
        done.append(point)
    return done
