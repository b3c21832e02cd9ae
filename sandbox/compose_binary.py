"""Which Compose v2 the sandbox's compose project runs with: the first that says `version --short` >= 2.

1. the `docker compose` plugin of the docker CLI on PATH (GitHub's runners have it);
2. a `docker-compose` on PATH that is v2 (Debian 12's is the old Python v1: refused);
3. Debian 13's `docker-compose` package (a static binary needing only libc6, PLATFORM.md), fetched
   into the sandbox's cache (AURA_SANDBOX_CACHE, outside the state folder, so `down --purge` keeps
   it) with apt's own client pointed at a list of our own: the system's apt sources and state are
   never touched and nothing is installed system-wide.

The answer is the command's words (absolute first word), as the target config's `[compose] command`.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from .errors import SandboxError

Log = Callable[[str], None]

TRIXIE_LIST = ("deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
               "http://deb.debian.org/debian trixie main\n")
PLUGIN_PATH = Path("usr/libexec/docker/cli-plugins/docker-compose")
FETCH_TIMEOUT_S = 300


def major_version(words: list[str], timeout: float = 20) -> int | None:
    """The major version `WORDS version --short` prints (`2.26.1`, `v2.29.7`), None when it fails."""
    try:
        out = subprocess.run([*words, "version", "--short"], capture_output=True, text=True, timeout=timeout,
                             check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.match(r"v?(\d+)\.", out.stdout.strip()) if out.returncode == 0 else None
    return int(found.group(1)) if found else None


def _on_path() -> list[list[str]]:
    found = []
    docker = shutil.which("docker")
    if docker:
        found.append([os.path.realpath(docker), "compose"])
    standalone = shutil.which("docker-compose")
    if standalone:
        found.append([os.path.realpath(standalone)])
    return found


def cached_binary(cache: Path) -> Path:
    return cache / "compose" / "root" / PLUGIN_PATH


def _apt(cache: Path, *args: str) -> list[str]:
    folder = cache / "compose"
    return ["apt-get", "-q", "-o", f"Dir::Etc::SourceList={folder / 'trixie.list'}",
            "-o", "Dir::Etc::SourceParts=/nonexistent", "-o", f"Dir::State::Lists={folder / 'lists'}",
            "-o", f"Dir::Cache={folder / 'apt-cache'}", *args]


def fetch_debian_package(cache: Path, log: Log) -> Path:
    """Debian 13's docker-compose unpacked under `cache`; the binary's path."""
    folder = cache / "compose"
    (folder / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (folder / "apt-cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (folder / "trixie.list").write_text(TRIXIE_LIST)
    log("compose: fetching Debian 13's docker-compose (Compose v2) into the cache")
    for args, where in ((("update",), None), (("download", "docker-compose"), folder)):
        try:
            done = subprocess.run(_apt(cache, *args), cwd=where, capture_output=True, text=True,
                                  timeout=FETCH_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SandboxError(f"compose: apt-get {args[0]} for Debian 13's docker-compose failed: {exc}") from None
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["?"])[-1]
            raise SandboxError(f"compose: apt-get {args[0]} for Debian 13's docker-compose failed: {tail}")
    debs = sorted(folder.glob("docker-compose_*.deb"))
    if not debs:
        raise SandboxError(f"compose: apt-get download left no docker-compose_*.deb in {folder}")
    root = folder / "root"
    shutil.rmtree(root, ignore_errors=True)
    subprocess.run(["dpkg", "-x", str(debs[-1]), str(root)], check=True, capture_output=True, timeout=60)
    binary = cached_binary(cache)
    if not binary.is_file():
        raise SandboxError(f"compose: {debs[-1].name} holds no {PLUGIN_PATH}")
    return binary


def find_compose(cache: Path, log: Log) -> list[str]:
    """The words of a Compose v2 command; SandboxError when none can be had."""
    for words in _on_path():
        if (major_version(words) or 0) >= 2:
            return words
    binary = cached_binary(cache)
    if not binary.is_file():
        binary = fetch_debian_package(cache, log)
    words = [str(binary)]
    found = major_version(words)
    if (found or 0) < 2:
        raise SandboxError(f"compose: {binary} does not answer `version --short` with 2 or later ({found})")
    return words
