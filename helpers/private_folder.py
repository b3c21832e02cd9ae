"""The run's own folders are the runner's alone.

The reports (the staging's hosts, versions, row counts, the drill log) and the drill state
(journals holding the services' environments, row backups) are read by the user who runs the
drills and by nobody else: a nightly job's runner user, or a person. Files keep their own modes;
the folder's 0700 is what shuts everyone else out. A folder someone else owns (a shared
--reports-dir) is left as they set it: the run can use it but has no say over it.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["make_private"]


def make_private(folder: Path) -> None:
    """chmod 0700 `folder` when this process's user owns it (no-op otherwise)."""
    st = folder.stat()
    if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != 0o700:
        folder.chmod(0o700)
