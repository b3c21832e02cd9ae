"""Whose sandbox this is: root, or the user who ran `python -m sandbox` through sudo.

The sudo route (README "Running as a non-root user"): a CI runner's user is not root but has
passwordless sudo. The sandbox's privileged steps need root — the PostgreSQL cluster runs as the
`postgres` user (`runuser`), Podman's service is rootful, and recognising our own processes reads
other users' `/proc/<pid>/fd` — so a non-root `python -m sandbox …` re-executes itself as root
with `sudo -n` (`escalate`). Everything that user's own processes touch afterwards belongs to that
user and to nobody else: the config (0600: it holds the database password), the runbook's audit log,
the nginx front that the runbook's scripts rewrite and reload, the alert receiver, the engine
socket the scripts and the suite talk to, the hosts layout's keys. nginx and the receiver run as
that user (`process_kwargs`); the files are handed over (`take`).

Run as root without sudo (the project's CI), the owner is root and nothing changes hands.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import SandboxError
from .layout import PROJECT_DIR

# What a re-executed `python -m sandbox` must still see: sudo resets the environment.
PASSED_ENV_PREFIXES = ("AURA_SANDBOX_",)
PASSED_ENV = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH",
              "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


@dataclass(frozen=True)
class Owner:
    uid: int
    gid: int
    name: str

    @property
    def is_root(self) -> bool:
        return self.uid == 0

    def process_kwargs(self) -> dict:
        """subprocess arguments that start a program as the owner. The program is exec'd as the
        owner directly (no `runuser`/`su` parent left in between), so the pid we record is the
        program's own and a signal to it reaches it."""
        return {} if self.is_root else {"user": self.uid, "group": self.gid, "extra_groups": []}

    def take(self, path: Path, *, recursive: bool = False) -> None:
        """Make `path` (and, if asked, everything below it) the owner's; absent paths are skipped.
        Modes stay as they are: private files were written 0600 from their first byte."""
        if not path.exists() and not path.is_symlink():
            return
        paths = [path]
        if recursive and path.is_dir() and not path.is_symlink():
            paths += [p for p in path.rglob("*")]
        for p in paths:
            st = p.lstat()
            if (st.st_uid, st.st_gid) != (self.uid, self.gid):
                os.chown(p, self.uid, self.gid, follow_symlinks=False)

    def owns_process(self, pid: int) -> bool:
        """Does process `pid` run as the owner (its real uid)? A front or receiver started for
        another owner (root before, a user now) must be started again, as this one."""
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("Uid:"):
                    return int(line.split()[1]) == self.uid
        except (OSError, ValueError, IndexError):
            return False
        return False


def current() -> Owner:
    """Root, unless root was reached through sudo: then the user who ran sudo."""
    if os.geteuid() == 0 and os.environ.get("SUDO_UID", "0") not in ("", "0"):
        try:
            entry = pwd.getpwuid(int(os.environ["SUDO_UID"]))
        except (KeyError, ValueError):
            raise SandboxError(f"SUDO_UID={os.environ['SUDO_UID']!r} names no user on this machine") from None
        return Owner(entry.pw_uid, entry.pw_gid, entry.pw_name)
    return Owner(0, 0, "root")


def escalate(argv: list[str]) -> None:
    """As a non-root user, replace this process with `sudo -n … python -m sandbox argv` (never
    returns); as root, return at once. `sudo -n` never prompts: a password it would need is one
    clear line, not a hung CI job."""
    if os.geteuid() == 0:
        return
    sudo = shutil.which("sudo")
    user = pwd.getpwuid(os.getuid()).pw_name
    if sudo is None:
        raise SandboxError(f"the sandbox needs root for PostgreSQL and Podman: run it as root, or give "
                           f"user {user!r} passwordless sudo (sudo is not installed)")
    probe = subprocess.run([sudo, "-n", "true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or ["sudo -n true failed"])[-1]
        raise SandboxError(f"the sandbox needs root for PostgreSQL and Podman and `sudo -n` refused user "
                           f"{user!r} ({why}): give {user!r} passwordless sudo, or run it as root")
    keep = {k: v for k, v in os.environ.items()
            if k in PASSED_ENV or k.startswith(PASSED_ENV_PREFIXES)}
    keep["PYTHONPATH"] = str(PROJECT_DIR)  # `-m sandbox` from wherever the caller stood
    env_args = [f"{k}={v}" for k, v in sorted(keep.items())]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sudo, [sudo, "-n", "env", *env_args, sys.executable, "-m", "sandbox", *argv])
