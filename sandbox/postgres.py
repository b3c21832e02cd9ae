"""A throwaway PostgreSQL cluster for the sandbox, run as the `postgres` user (it refuses root).

Data and socket live in `<state>/pg`, a short path the `postgres` user can reach (PLATFORM.md).
TCP clients (the API containers, the suite) log in as `aura` with a generated password; the local
socket trusts, so the sandbox can administer the cluster without handling the password.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path
from typing import Callable

from .errors import SandboxError
from .layout import DATABASE_NAME, DATABASE_USER, Layout
from .procs import alive, read_pid, stop_pid

PG_BIN_DIRS = [Path("/usr/lib/postgresql/15/bin"), Path("/usr/lib/postgresql/16/bin")]


def pg_bin(name: str) -> str:
    override = os.environ.get("AURA_SANDBOX_PG_BIN")
    dirs = [Path(override)] if override else PG_BIN_DIRS
    for d in dirs:
        if (d / name).is_file():
            return str(d / name)
    found = None if override else shutil.which(name)
    if not found:
        where = override or ", ".join(str(d) for d in PG_BIN_DIRS)
        raise SandboxError(f"PostgreSQL binary {name!r} not found (looked in {where}); install postgresql")
    return found


def _as_postgres(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, **kw)


def _data(layout: Layout) -> Path:
    return layout.pg_dir / "data"


def _initialized_marker(layout: Layout) -> Path:
    return layout.pg_dir / "initialized"


def database_url(layout: Layout, password: str) -> str:
    return f"postgresql://{DATABASE_USER}:{password}@127.0.0.1:{layout.ports.postgres}/{DATABASE_NAME}"


def is_running(layout: Layout) -> bool:
    return alive(read_pid(_data(layout) / "postmaster.pid"))


def ensure_postgres(layout: Layout, password: str, log: Callable[[str], None]) -> None:
    """Initialise (once) and start the cluster; recover from a half-initialised folder."""
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise SandboxError("user 'postgres' does not exist; install postgresql") from None
    data = _data(layout)
    if not _initialized_marker(layout).exists():
        # A killed `up` may have left a partial cluster: start over from nothing.
        if layout.pg_dir.exists():
            _stop(layout)
            shutil.rmtree(layout.pg_dir)
        _init(layout, password, log)
    if is_running(layout):
        return
    log(f"postgres: starting on 127.0.0.1:{layout.ports.postgres}")
    opts = f"-p {layout.ports.postgres} -k {layout.pg_dir} -c listen_addresses=127.0.0.1"
    r = _as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-o", opts, "-l", str(layout.pg_dir / "log"),
                      "-w", "-t", "30", "start"])
    if r.returncode != 0:
        tail = _log_tail(layout)
        raise SandboxError(f"postgres did not start on port {layout.ports.postgres}: {tail}")


def _init(layout: Layout, password: str, log: Callable[[str], None]) -> None:
    log("postgres: initialising a new cluster")
    layout.pg_dir.mkdir(parents=True, exist_ok=True)
    shutil.chown(layout.pg_dir, "postgres", "postgres")
    pwfile = layout.pg_dir / "pwfile"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    shutil.chown(pwfile, "postgres", "postgres")
    try:
        r = _as_postgres([pg_bin("initdb"), "-D", str(_data(layout)), "-U", DATABASE_USER,
                          "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"])
    finally:
        pwfile.unlink(missing_ok=True)
    if r.returncode != 0:
        raise SandboxError(f"initdb failed in {layout.pg_dir}: {r.stderr.strip().splitlines()[-1:]}")
    opts = f"-p {layout.ports.postgres} -k {layout.pg_dir} -c listen_addresses=127.0.0.1"
    r = _as_postgres([pg_bin("pg_ctl"), "-D", str(_data(layout)), "-o", opts, "-l",
                      str(layout.pg_dir / "log"), "-w", "-t", "30", "start"])
    if r.returncode != 0:
        raise SandboxError(f"postgres did not start on port {layout.ports.postgres}: {_log_tail(layout)}")
    r = _as_postgres([pg_bin("createdb"), "-h", str(layout.pg_dir), "-p", str(layout.ports.postgres),
                      "-U", DATABASE_USER, DATABASE_NAME])
    if r.returncode != 0:
        raise SandboxError(f"createdb {DATABASE_NAME} failed: {r.stderr.strip()}")
    _initialized_marker(layout).write_text("ok\n")


def _log_tail(layout: Layout) -> str:
    try:
        lines = (layout.pg_dir / "log").read_text(errors="replace").strip().splitlines()
        return " | ".join(lines[-2:]) or "(empty log)"
    except FileNotFoundError:
        return "(no log)"


def _stop(layout: Layout) -> None:
    data = _data(layout)
    pid = read_pid(data / "postmaster.pid")
    if not alive(pid):
        return
    r = _as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "15", "stop"])
    if r.returncode != 0:
        stop_pid(pid, timeout=5)


def stop_postgres(layout: Layout, log: Callable[[str], None]) -> None:
    if is_running(layout):
        log("postgres: stopping")
        _stop(layout)
