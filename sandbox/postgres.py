"""A throwaway PostgreSQL cluster for the sandbox, run as the `postgres` user (it refuses root).

Data and socket live in `<state>/pg`, a short path the `postgres` user can reach (PLATFORM.md).
TCP clients (the API containers, the suite) log in as `aura` with a generated password; the local
socket trusts, so the sandbox can administer the cluster without handling the password.
"""
from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from .errors import SandboxError
from .layout import DATABASE_NAME, DATABASE_USER, Layout
from .private_file import write_private
from .procs import alive, command_line, read_pid, stop_pid

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
    return f"postgresql://{DATABASE_USER}:{password}@{layout.bind}:{layout.ports.postgres}/{DATABASE_NAME}"


def _our_postmaster(layout: Layout) -> int | None:
    """The postmaster of *our* cluster: a stale postmaster.pid may name a recycled PID."""
    pid = read_pid(_data(layout) / "postmaster.pid")
    if pid is None or not alive(pid):
        return None
    cmd = command_line(pid)
    return pid if "postgres" in cmd and str(_data(layout)) in cmd else None


def is_running(layout: Layout) -> bool:
    return _our_postmaster(layout) is not None


def ensure_postgres(layout: Layout, password: str, log: Callable[[str], None]) -> None:
    """Initialise (once) and start the cluster; recover from a half-initialised folder."""
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise SandboxError("user 'postgres' does not exist; install postgresql") from None
    if not _initialized_marker(layout).exists():
        # A killed `up` may have left a partial cluster: start over from nothing.
        if layout.pg_dir.exists():
            _stop(layout)
            shutil.rmtree(layout.pg_dir)
        _init(layout, password, log)
    added = _allow_bind_address(layout)
    if not is_running(layout):
        _start(layout, log)
    elif added:
        _as_postgres([pg_bin("pg_ctl"), "-D", str(_data(layout)), "reload"])
    _set_password(layout, password)


def _allow_bind_address(layout: Layout) -> bool:
    """initdb lets password logins come from loopback only: a cluster listening elsewhere (the
    hosts layout's staging address, where its clients are too) lets that one address in as well."""
    if layout.bind == "127.0.0.1":
        return False
    hba = _data(layout) / "pg_hba.conf"
    line = f"host    all             all             {layout.bind}/32            scram-sha-256"
    text = hba.read_text()
    if line in text.splitlines():
        return False
    hba.write_text(text.rstrip("\n") + "\n# the hosts layout's staging address (sandbox/postgres.py)\n" + line + "\n")
    return True


def _check_location(layout: Layout) -> None:
    """PLATFORM.md: the socket path must stay under 107 bytes, and `postgres` must reach it."""
    socket_path = layout.pg_dir / f".s.PGSQL.{layout.ports.postgres}"
    if len(str(socket_path).encode()) > 107:
        raise SandboxError(f"state folder path too long for a unix socket ({socket_path}): "
                           "set AURA_SANDBOX_STATE to a shorter path")
    if _as_postgres(["test", "-x", str(layout.state)]).returncode != 0:
        raise SandboxError(f"user 'postgres' cannot enter {layout.state}: "
                           "set AURA_SANDBOX_STATE to a folder it can reach (e.g. under /var/tmp)")


def _set_password(layout: Layout, password: str) -> None:
    """Make the role's password the one in secrets.toml (it may have been regenerated after the
    file was lost). Through the trusted local socket; the password goes on stdin, never argv."""
    # The server logs a failing statement with its text by default: not this one.
    sql = ("SET log_min_error_statement = panic;\n"
           "ALTER ROLE " + DATABASE_USER + " PASSWORD '" + password.replace("'", "''") + "';\n")
    r = _as_postgres([pg_bin("psql"), "-h", str(layout.pg_dir), "-p", str(layout.ports.postgres), "-U",
                      DATABASE_USER, "-d", DATABASE_NAME, "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"],
                     input=sql, timeout=30)
    if r.returncode != 0:
        raise SandboxError(f"could not set the database password: {r.stderr.strip().splitlines()[-1:]}")


def _start(layout: Layout, log: Callable[[str], None]) -> None:
    # Not our postmaster (checked by the caller): a pid file left by a killed run, possibly naming
    # a recycled PID, which would make postgres refuse to start.
    (_data(layout) / "postmaster.pid").unlink(missing_ok=True)
    # Same for the socket and its lock file: a killed postmaster may linger as a zombie that no
    # init reaps here, and postgres would take its PID in the lock file for a live server.
    for stale in layout.pg_dir.glob(".s.PGSQL.*"):
        stale.unlink(missing_ok=True)
    log(f"postgres: starting on {layout.bind}:{layout.ports.postgres}")
    opts = f"-p {layout.ports.postgres} -k {shlex.quote(str(layout.pg_dir))} -c listen_addresses={layout.bind}"
    r = _as_postgres([pg_bin("pg_ctl"), "-D", str(_data(layout)), "-o", opts, "-l", str(layout.pg_dir / "log"),
                      "-w", "-t", "30", "start"])
    if r.returncode != 0:
        tail = _log_tail(layout)
        raise SandboxError(f"postgres did not start on port {layout.ports.postgres}: {tail}")


def _init(layout: Layout, password: str, log: Callable[[str], None]) -> None:
    _check_location(layout)
    log("postgres: initialising a new cluster")
    layout.pg_dir.mkdir(parents=True, exist_ok=True)
    shutil.chown(layout.pg_dir, "postgres", "postgres")
    pwfile = layout.pg_dir / "pwfile"
    write_private(pwfile, password + "\n")  # 0600 from its first byte
    shutil.chown(pwfile, "postgres", "postgres")
    try:
        r = _as_postgres([pg_bin("initdb"), "-D", str(_data(layout)), "-U", DATABASE_USER,
                          "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"])
    finally:
        pwfile.unlink(missing_ok=True)
    if r.returncode != 0:
        raise SandboxError(f"initdb failed in {layout.pg_dir}: {r.stderr.strip().splitlines()[-1:]}")
    opts = f"-p {layout.ports.postgres} -k {shlex.quote(str(layout.pg_dir))} -c listen_addresses={layout.bind}"
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
    pid = _our_postmaster(layout)
    if pid is None:
        return
    r = _as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "15", "stop"])
    if r.returncode != 0:
        stop_pid(pid, timeout=5)


def stop_postgres(layout: Layout, log: Callable[[str], None]) -> None:
    if is_running(layout):
        log("postgres: stopping")
        _stop(layout)
