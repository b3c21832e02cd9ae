"""A private Docker Engine (dockerd) that the sandbox owns, when no Docker Engine answers.

PLATFORM.md: Debian's docker.io runs here as a plain process, without systemd. Everything it keeps
lives under the sandbox's state folder (`<state>/engine/dockerd`): its socket, data root, exec root,
pid file and log, so AURA_SANDBOX_STATE moves all of it, `down` stops it by its pid file and
`down --purge` removes its data root with the state folder. It never listens on
/var/run/docker.sock: that socket belongs to whoever runs the machine's own engine.

As with the Podman service, the pid file and socket can outlive a killed run: a pid is believed
only when it is alive and a dockerd whose command line names our socket, a socket only when it
answers `GET /_ping`.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from .errors import SandboxError
from .layout import Layout
from .mounts import unmount_under
from .procs import runs_program, wait_started

Log = Callable[[str], None]

START_TIMEOUT_S = 30.0   # ~5 s here with overlay2 (PLATFORM.md); a first start makes its data root
STOP_TIMEOUT_S = 15.0    # dockerd stops its containers (their own stop timeouts) before it exits


def folder(layout: Layout) -> Path:
    return layout.engine_dir / "dockerd"


def socket_path(layout: Layout) -> Path:
    return folder(layout) / "docker.sock"


def socket_url(layout: Layout) -> str:
    return f"unix://{socket_path(layout)}"


def _pid_file(layout: Layout) -> Path:
    return folder(layout) / "docker.pid"


def _log_file(layout: Layout) -> Path:
    return folder(layout) / "dockerd.log"


def data_root(layout: Layout) -> Path:
    return folder(layout) / "root"


def command(layout: Layout, dockerd: str = "dockerd") -> list[str]:
    """PLATFORM.md's command line: no iptables and no bridge (only loopback here: containers use
    host networking), and the same nofile limit the Podman service gives its containers."""
    d = folder(layout)
    return [dockerd, "-H", socket_url(layout), "--data-root", str(d / "root"), "--exec-root", str(d / "exec"),
            "--pidfile", str(_pid_file(layout)), "--iptables=false", "--ip6tables=false", "--bridge=none",
            "--default-ulimit", "nofile=1024:1024"]


def read_pid(layout: Layout) -> int | None:
    try:
        return int(_pid_file(layout).read_text().strip())
    except (OSError, ValueError):
        return None


def is_ours(pid: int, layout: Layout) -> bool:
    """Alive, not a zombie, a dockerd, and serving our socket (another sandbox's is not ours)."""
    return runs_program(pid, "dockerd", socket_path(layout))


def _tail(path: Path, lines: int = 3) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def ensure(layout: Layout, log: Log, ping: Callable[[str], bool]) -> str:
    """Our dockerd's URL, started when it does not run (or does not answer)."""
    url = socket_url(layout)
    pid = read_pid(layout)
    if pid is not None and is_ours(pid, layout):
        if ping(url):
            log(f"engine: reusing the sandbox's dockerd (pid {pid}) at {url}")
            return url
        log(f"engine: dockerd pid {pid} does not answer on {url}; restarting it")
        stop(layout, log)
    binary = shutil.which("dockerd")
    if binary is None:
        raise SandboxError("AURA_SANDBOX_ENGINE=docker: no Docker Engine answers (DOCKER_HOST, /var/run/docker.sock) "
                           "and dockerd is not installed: apt-get install -y docker.io (or run ./aura, which does)")
    folder(layout).mkdir(parents=True, exist_ok=True)
    for stale in (_pid_file(layout), socket_path(layout)):
        stale.unlink(missing_ok=True)  # a killed run's: nobody is behind them (checked above)
    log(f"engine: starting a private dockerd at {url} (data root {data_root(layout)})")
    with open(_log_file(layout), "ab") as out:
        proc = subprocess.Popen(command(layout, binary), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)  # outlives us, not our Ctrl-C
    if wait_started(proc, lambda: ping(url), START_TIMEOUT_S):
        log(f"engine: dockerd ready (pid {proc.pid})")
        return url
    exited = proc.poll()
    _kill(proc.pid, layout, log)
    state = f"exited with {exited}" if exited is not None else f"no answer in {START_TIMEOUT_S:.0f} s"
    raise SandboxError(f"dockerd on {socket_path(layout)} {state}: {_tail(_log_file(layout))} "
                       f"(log {_log_file(layout)})")


def stop(layout: Layout, log: Log) -> None:
    """Stop only the dockerd whose pid is in our pid file; harmless when none runs."""
    pid = read_pid(layout)
    if pid is not None and is_ours(pid, layout):
        log(f"engine: stopping the sandbox's dockerd (pid {pid})")
        _kill(pid, layout, log)
    for stale in (_pid_file(layout), socket_path(layout)):
        stale.unlink(missing_ok=True)
    left = unmount_under(folder(layout)) if folder(layout).exists() else []
    if left:
        log(f"engine: unmounted {len(left)} mount(s) a stopped dockerd left under {folder(layout)}")


def _kill(pid: int, layout: Layout, log: Log) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and is_ours(pid, layout):
        _reap(pid)
        time.sleep(0.05)
    if is_ours(pid, layout):
        log(f"engine: dockerd pid {pid} ignored SIGTERM for {STOP_TIMEOUT_S:.0f} s; SIGKILL")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        for _ in range(100):
            _reap(pid)
            if not is_ours(pid, layout):
                break
            time.sleep(0.05)


def _reap(pid: int) -> None:
    """Collect the exit status if this process started it (else there is nothing to collect)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def status(layout: Layout, ping: Callable[[str], bool]) -> tuple[bool, str] | None:
    """(answers, description) of our dockerd; None when there is none (no live pid of ours)."""
    pid = read_pid(layout)
    if pid is None or not is_ours(pid, layout):
        return None
    url = socket_url(layout)
    if ping(url):
        return True, f"the sandbox's dockerd pid {pid} answers on {url}"
    return False, f"the sandbox's dockerd pid {pid} runs but does not answer on {url}"
