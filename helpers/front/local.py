"""The front on the runner itself (no `[front] ssh`): local files, the config's command lines run
here as argv (split with shlex, no shell). What the suite did before `[front]` existed; like
pytest-postgresql's no-op executor, `connect` and `close` have nothing to do."""
from __future__ import annotations

import os
import shutil
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from helpers import commands
from helpers.commands import CommandError, CommandResult
from helpers.file_digest import sha256_file
from helpers.front.protocol import PathCheck, PathLike, first_problem_per_key, path_problem

__all__ = ["LocalFront"]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


class LocalFront:
    """The nginx side on the runner itself."""
    where = "this host"

    def connect(self) -> LocalFront:
        return self

    def close(self) -> None:
        return None

    def read_bytes(self, path: PathLike) -> bytes:
        return Path(path).read_bytes()

    def read_text(self, path: PathLike) -> str:
        return self.read_bytes(path).decode("utf-8")

    def sha256(self, path: PathLike) -> str | None:
        return sha256_file(path)

    def exists(self, path: PathLike) -> bool:
        return Path(path).exists()

    def write_bytes(self, path: PathLike, data: bytes) -> None:
        """Replace the file's bytes atomically (a temporary file renamed over it), keeping its mode
        and owner (a real host's nginx.conf is not ours). A symlink stays a link: the write goes to
        the file it points to (a team that links nginx.conf to a versioned file keeps the link)."""
        live = Path(os.path.realpath(path))
        tmp = Path(f"{live}.drill-restore.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if live.exists():
            was = live.stat()
            shutil.copymode(live, tmp)
            if (was.st_uid, was.st_gid) != (os.getuid(), os.getgid()):
                try:
                    os.chown(tmp, was.st_uid, was.st_gid)
                except PermissionError as e:
                    tmp.unlink()
                    raise OSError(f"cannot write {path} keeping its owner {was.st_uid}:{was.st_gid}: {e}") from e
        tmp.replace(live)

    def copy(self, src: PathLike, dst: PathLike) -> None:
        shutil.copyfile(src, dst)

    def remove(self, path: PathLike) -> bool:
        try:
            Path(path).unlink()
        except FileNotFoundError:
            return False
        return True

    def run(self, command: str, timeout: float) -> CommandResult:
        return commands.run(command, timeout=timeout)

    def state(self, conf: PathLike, test_cmd: str, timeout: float,
              want: str | None = None) -> tuple[str | None, bool]:
        digest = sha256_file(conf)
        if want is not None and digest != want:
            return digest, False
        return digest, commands.run(test_cmd, timeout=timeout).ok

    def tail(self, path: PathLike, lines: int) -> str:
        try:
            with Path(path).open(encoding="utf-8", errors="replace") as f:
                return "".join(deque(f, maxlen=lines))
        except OSError as e:
            return f"(no error log: {e})"

    def path_problems(self, checks: Sequence[PathCheck]) -> list[str]:
        """The same checks SshFront's one remote script makes (`[ -f ]`, `[ -d dirname ]`,
        `[ -f ] && [ -x ]` on a command's first word, `[ -w ]` on a file's target and its folder)."""
        out = []
        for c in checks:
            if c.kind == "file":
                ok, first = os.path.isfile(c.path), c.path
            elif c.kind == "dir":
                ok, first = os.path.isdir(os.path.dirname(c.path) or "."), c.path
            elif c.kind == "write":
                live = os.path.realpath(c.path)
                ok, first = (os.access(os.path.dirname(live), os.W_OK)  # realpath: absolute
                             and (not os.path.exists(live) or os.access(live, os.W_OK))), c.path
            else:
                try:
                    first = commands.split_command(c.path)[0]
                except (CommandError, IndexError):
                    first = c.path
                ok = os.path.isfile(first) and os.access(first, os.X_OK)
            if not ok:
                out.append((c, path_problem(c, first, "", f" for this user (uid {os.getuid()})")))
        return first_problem_per_key(out)

    def testinfra_host(self) -> Any:
        import testinfra  # here: 0.2 s of import that only the host checks need

        return testinfra.get_host("local://")

    def checks_host_of(self, url: str) -> bool:
        """This host serves `url` only when the URL names it by a loopback name."""
        return urlsplit(url).hostname in LOOPBACK_NAMES

    def sees_listener(self, address: str) -> bool:
        return True  # every address a listener here can bind is this host's

    def environment_rows(self) -> dict[str, str]:
        return {}
