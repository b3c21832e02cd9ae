"""nginx through the config's [nginx] keys: test, reload, start, the include and the backup.

The start command is test_cmd without its `-t` (nginx daemonizes by default; a `daemon off;`
config is handled by not waiting for the process). "Running" means something accepts connections
on [target] base_url's port: the commands themselves carry no pid-file knowledge we could use.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from . import web
from .config import Config
from .errors import EXIT_FAILED, PreconditionError, ToolError, UsageError

CMD_TIMEOUT_S = 30
_SERVER = re.compile(r"^\s*server\s+([^\s;]+)")


def sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` in one rename, keeping its mode and owner; nginx never sees half a file.
    A symlink stays a link, as `cp backup conf` leaves it: the file it leads to is replaced (a
    host's nginx.conf is often a link to a versioned file)."""
    path = Path(os.path.realpath(path))
    try:
        st = path.stat()
        mode, owner = st.st_mode & 0o7777, (st.st_uid, st.st_gid)
    except FileNotFoundError:
        mode, owner = 0o644, None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        if owner is not None and owner != (os.geteuid(), os.getegid()):
            os.chown(tmp, *owner)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _error_line(output: str) -> str:
    """The line of nginx's output that says what is wrong."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if "[emerg]" in line or "[alert]" in line or "[crit]" in line or "[error]" in line:
            message = line.split("] ", 1)[-1] if "] " in line else line
            return re.sub(r"^\d+#\d+: ", "", message)
    return lines[-1] if lines else "(no output)"


class Nginx:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.conf = cfg.path_of("nginx", "conf")
        self.include = cfg.path_of("nginx", "upstream_include")
        self.test_argv = cfg.command("nginx", "test_cmd")
        self.reload_argv = cfg.command("nginx", "reload_cmd")
        if "-t" not in self.test_argv:
            raise UsageError(f"config {cfg.path}: [nginx] test_cmd has no -t")
        self.start_argv = [a for a in self.test_argv if a != "-t"]
        front = urlsplit(cfg.base_url())
        self.front = (front.hostname or "127.0.0.1",
                      front.port or (443 if front.scheme == "https" else 80))

    @property
    def backup(self) -> Path:
        return self.cfg.path_of("nginx", "backup")

    # -- commands -----------------------------------------------------------------------------
    def _run(self, argv: list[str]) -> tuple[bool, str]:
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=CMD_TIMEOUT_S,
                               stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise PreconditionError(f"{argv[0]} not found") from None
        except subprocess.TimeoutExpired:
            return False, f"{argv[0]} timed out after {CMD_TIMEOUT_S} s"
        return r.returncode == 0, (r.stderr + r.stdout)

    def test(self, conf: Path | None = None) -> tuple[bool, str]:
        """`nginx -t`; with `conf`, the same test of another file in place of [nginx] conf."""
        argv = self.test_argv
        if conf is not None:
            if str(self.conf) not in argv:
                raise ToolError("cannot test another file: [nginx] test_cmd does not name [nginx] conf")
            argv = [str(conf) if a == str(self.conf) else a for a in argv]
        ok, out = self._run(argv)
        return ok, "" if ok else _error_line(out)

    def running(self) -> bool:
        return web.port_open(*self.front)

    def reload(self) -> None:
        ok, out = self._run(self.reload_argv)
        if not ok:
            raise ToolError(f"nginx reload failed: {_error_line(out)}", EXIT_FAILED)

    def start(self, wait_s: float = 5.0) -> None:
        # stderr to a file, not a pipe: a daemonized master could hold a pipe open forever.
        with tempfile.TemporaryFile() as err:
            try:
                proc = subprocess.Popen(self.start_argv, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
            except FileNotFoundError:
                raise PreconditionError(f"{self.start_argv[0]} not found") from None
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                if self.running():
                    return
                code = proc.poll()
                if code not in (None, 0):
                    err.seek(0)
                    text = err.read().decode("utf-8", "replace")
                    raise ToolError(f"nginx did not start: {_error_line(text)}", EXIT_FAILED)
                time.sleep(0.05)
        raise ToolError(f"nginx did not start listening on {self.front[0]}:{self.front[1]} "
                        f"within {wait_s:.0f} s", EXIT_FAILED)

    def apply(self) -> str:
        """Reload a running nginx, or start it if nothing listens on the front."""
        if self.running():
            self.reload()
            return "reloaded"
        self.start()
        return "started"

    # -- upstream include -----------------------------------------------------------------------
    def include_servers(self) -> list[str]:
        try:
            text = self.include.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            line = line.split("#", 1)[0]
            m = _SERVER.match(line)
            if m:
                out.append(m.group(1))
        return out

    def active_pool(self) -> str | None:
        """The pool the include names (its only server line), None when it is anything else."""
        servers = self.include_servers()
        by_addr = {addr: pool for pool, addr in self.cfg.pools().items()}
        if len(servers) == 1:
            return by_addr.get(servers[0])
        return None

    @staticmethod
    def include_text(address: str) -> bytes:
        return f"server {address};\n".encode()
