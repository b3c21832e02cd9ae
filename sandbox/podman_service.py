"""The sandbox's own Podman API service (PLATFORM.md), when no Docker Engine API answers.

engine.py chooses which engine the sandbox uses; this module starts, checks and stops the Podman
service it may choose. The owned service is a plain detached process (no systemd here). Its pid file and socket live in
`layout.engine_dir`; both can outlive a killed run, so start-up checks them instead of trusting
them: a pid file is believed only if that pid is alive *and* is a podman process, and a socket
only if it answers `GET /_ping`.
"""
from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from .errors import SandboxError
from .layout import Layout
from .procs import runs_program, wait_started

Log = Callable[[str], None]

DOCKER_SOCK = Path("/var/run/docker.sock")
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0

# PLATFORM.md, found by trial: crun fails on this kernel's hybrid cgroups, the runtime needs
# explicit ulimits, and containers must share the host's (loopback-only) network.
# image_copy_tmp_dir: Podman 4.3's compat /images/create saves each uploaded tarball as
# $TMP/api_load.tar<random> and never deletes it (50 MB per import, in /var/tmp by default);
# pointing it into our engine folder lets images.py and stop_engine delete those leftovers.
CONTAINERS_CONF = """\
# Written by the Aura Flow sandbox (sandbox/engine.py); regenerated on every start.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
netns = "host"

[engine]
runtime = "runc"
image_copy_tmp_dir = "{tmp}"
"""


# -- small helpers ----------------------------------------------------------------------------
class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket: enough for a ping without building a docker client."""

    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def ping(url: str, timeout: float = 2.0) -> bool:
    """True when the Docker-API endpoint at `url` (unix://, tcp:// or http://) answers /_ping."""
    try:
        parsed = urlparse(url)
        if parsed.scheme in ("unix", "http+unix"):
            path = parsed.path or parsed.netloc
            if not os.path.exists(path):
                return False
            conn: http.client.HTTPConnection = UnixHTTPConnection(path, timeout)
        elif parsed.scheme in ("tcp", "http"):
            conn = http.client.HTTPConnection(parsed.hostname or "localhost", parsed.port or 2375,
                                              timeout=timeout)
        else:  # https/ssh engines need TLS/ssh settings we cannot guess: let the SDK judge them
            return False
        try:
            conn.request("GET", "/_ping")
            resp = conn.getresponse()
            return resp.status == 200
        finally:
            conn.close()
    except OSError:
        return False


def _pid_file(layout: Layout) -> Path:
    return layout.engine_dir / "podman.pid"


def _log_file(layout: Layout) -> Path:
    return layout.engine_dir / "podman.log"


def _conf_file(layout: Layout) -> Path:
    return layout.engine_dir / "containers.conf"


def upload_tmp_dir(layout: Layout) -> Path:
    """Where our Podman service leaves uploaded tarballs (see CONTAINERS_CONF)."""
    return layout.engine_dir / "tmp"


def clean_upload_leftovers(layout: Layout) -> None:
    """Delete the api_load.tar* files Podman's import leaves behind in our service's tmp dir.

    Call only between imports: a file is in use while its upload is being imported."""
    for leftover in upload_tmp_dir(layout).glob("api_load.tar*"):
        leftover.unlink(missing_ok=True)


def socket_url(layout: Layout) -> str:
    return f"unix://{layout.podman_socket}"


def _read_pid(layout: Layout) -> int | None:
    try:
        return int(_pid_file(layout).read_text().strip())
    except (OSError, ValueError):
        return None


def _is_podman(pid: int, layout: Layout | None = None) -> bool:
    """Alive and really our podman service (serving our socket, when `layout` is given)."""
    return runs_program(pid, "podman", layout.podman_socket if layout else None)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _clean_stale(layout: Layout) -> None:
    for p in (_pid_file(layout), layout.podman_socket):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


# -- public API ---------------------------------------------------------------------------------
def ensure_podman(layout: Layout, log: Log) -> str:
    """The sandbox's own Podman API service, started when it does not run."""
    env_host = os.environ.get("DOCKER_HOST")
    url = socket_url(layout)
    pid = _read_pid(layout)
    if pid is not None and _is_podman(pid, layout) and ping(url):
        log(f"engine: reusing podman service (pid {pid}) at {url}")
        return url
    if pid is not None and _is_podman(pid, layout):
        # Our podman lives but does not answer (still starting, or wedged): replace it.
        log(f"engine: podman pid {pid} does not answer on {url}; restarting it")
        stop_podman(layout, log)
    else:
        _clean_stale(layout)  # killed run: pid file/socket with nobody behind them

    podman = shutil.which("podman")
    if podman is None:
        hint = f" (DOCKER_HOST={env_host} does not answer)" if env_host else ""
        raise SandboxError("no Docker engine answers (DOCKER_HOST, /var/run/docker.sock)" + hint +
                           " and podman is not installed: apt-get install -y podman runc")
    if shutil.which("runc") is None:  # containers.conf asks for runc (crun fails on this kernel)
        raise SandboxError("runc not found: podman here needs it (apt-get install -y runc)")

    upload_tmp_dir(layout).mkdir(parents=True, exist_ok=True)
    clean_upload_leftovers(layout)
    _conf_file(layout).write_text(CONTAINERS_CONF.format(tmp=upload_tmp_dir(layout)))
    env = dict(os.environ, CONTAINERS_CONF=str(_conf_file(layout)))
    log(f"engine: starting podman system service at {url}")
    with open(_log_file(layout), "ab") as logf:
        proc = subprocess.Popen(
            [podman, "system", "service", "--time=0", url],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            env=env, start_new_session=True,  # own session: survives our exit, not our Ctrl-C
            close_fds=True,
        )
    _pid_file(layout).write_text(f"{proc.pid}\n")

    if wait_started(proc, lambda: ping(url, timeout=1.0), START_TIMEOUT_S):
        log(f"engine: podman service ready (pid {proc.pid})")
        return url
    exited = proc.poll()
    stop_podman(layout, lambda _m: None)
    state = f"exited with {exited}" if exited is not None else f"no answer in {START_TIMEOUT_S:.0f} s"
    last = (_tail(_log_file(layout), 1) or "no output").strip()
    raise SandboxError(f"podman service on {layout.podman_socket} {state}: {last} (log {_log_file(layout)})")


def stop_podman(layout: Layout, log: Log) -> None:
    """Stop only the podman service whose pid is in our pid file; harmless when none runs."""
    pid = _read_pid(layout)
    if pid is not None and _is_podman(pid, layout):
        log(f"engine: stopping podman service (pid {pid})")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline and _is_podman(pid, layout):
            _reap(pid)
            time.sleep(0.05)
        if _is_podman(pid, layout):
            log(f"engine: podman pid {pid} ignored SIGTERM for {STOP_TIMEOUT_S:.0f} s; SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            for _ in range(40):
                _reap(pid)
                if not _is_podman(pid, layout):
                    break
                time.sleep(0.05)
    _clean_stale(layout)
    clean_upload_leftovers(layout)


def _reap(pid: int) -> None:
    """Collect the exit status if we are the parent (same process started it), else no-op."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def engine_status_of_podman(layout: Layout) -> bool:
    """Does the sandbox's own Podman service run (answering or not)?"""
    pid = _read_pid(layout)
    return pid is not None and _is_podman(pid, layout)


def status(layout: Layout) -> tuple[bool, str]:
    """(answers, description) of the sandbox's own Podman service, without starting it."""
    pid = _read_pid(layout)
    url = socket_url(layout)
    if pid is not None and _is_podman(pid, layout):
        if ping(url):
            return True, f"podman service pid {pid} answers on {url}"
        return False, f"podman service pid {pid} runs but does not answer on {url}"
    if pid is not None:
        return False, f"stale pid file {_pid_file(layout)} (pid {pid} is not a running podman)"
    return False, f"no engine: podman service not running ({url})"
