"""A compose staging as compose sees it (`[compose]`): the project's command lines, run on the front.

Every compose command is `[compose] command` + the project's options (`--project-name`,
`--project-directory`, `--env-file`, one `-f` per file, in order) + its own arguments, run through
the target's front (this host, or the front host over SSH): compose runs where the team's files
are. What the suite asks compose:
- `config --format json`: the services, their images (the run's current-version line, as the
  runbook's `config | grep image:`) and their `container_name` (which service is a [services] name);
- `config --hash '*'`: each service's config hash, to compare with its container's
  `com.docker.compose.config-hash` label (drift: compose would recreate it);
- `up -d --no-deps SERVICE...`: the image fault (with the drill's override file last) and the restore.

The image fault's override is a file of the drill's own, in its state folder, named so that compose
never reads it by itself (`*compose.override.y*ml` is compose's default override): the team's files
are never edited.
"""
from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpers.commands import CommandResult, split_command
from helpers.front.protocol import PathCheck
from helpers.redact import one_line

if TYPE_CHECKING:
    from helpers.config.models import ComposeSection, TargetConfig
    from helpers.front import Front

__all__ = ["CONFIG_HASH_LABEL", "OVERRIDE_NAME", "Compose", "ComposeError", "compose_of", "override_text"]

CONFIG_HASH_LABEL = "com.docker.compose.config-hash"
OVERRIDE_NAME = "drill-image-fault.yml"   # never *compose.override.y*ml: compose would read that itself
CONFIG_TIMEOUT_S = 60
UP_TIMEOUT_S = 180


class ComposeError(RuntimeError):
    """A compose command failed: one line naming it and its last error line."""


def override_text(service: str, image: str) -> str:
    """The image fault's override: only the service's image changes (JSON is YAML)."""
    return "# The drill's image fault (deleted by its restore); the team's files are not edited.\n" + \
        json.dumps({"services": {service: {"image": image}}}, indent=2) + "\n"


def _tail(result: CommandResult) -> str:
    lines = [line for line in (result.stderr or result.stdout).strip().splitlines() if line.strip()]
    how = "timed out" if result.timed_out else f"exit {result.exit_code}"
    return f"{how}: {lines[-1].strip()}" if lines else how


@dataclass(frozen=True)
class Compose:
    section: ComposeSection
    front: Front

    def project_args(self, extra_files: Sequence[str | Path] = ()) -> list[str]:
        s = self.section
        out: list[str] = []
        if s.project_name:
            out += ["--project-name", s.project_name]
        if s.project_directory:
            out += ["--project-directory", str(s.project_directory)]
        if s.env_file:
            out += ["--env-file", str(s.env_file)]
        for f in (*s.files, *extra_files):
            out += ["-f", str(f)]
        return out

    def line(self, args: Sequence[str], extra_files: Sequence[str | Path] = ()) -> str:
        return shlex.join([*split_command(self.section.command), *self.project_args(extra_files), *args])

    def run(self, args: Sequence[str], *, extra_files: Sequence[str | Path] = (),
            timeout: float = CONFIG_TIMEOUT_S) -> CommandResult:
        result = self.front.run(self.line(args, extra_files), timeout)
        if not result.ok:
            raise ComposeError(one_line(f"[compose] `compose {' '.join(args)}` failed on {self.front.where}: "
                                        f"{_tail(result)}"))
        return result

    # -- what compose says -----------------------------------------------------------------
    def version_major(self) -> int | None:
        """`version --short`'s major version (compose v2 prints 2.26.1 or v2.29.7)."""
        result = self.front.run(shlex.join([*split_command(self.section.command), "version", "--short"]), 20)
        found = re.match(r"v?(\d+)\.", result.stdout.strip()) if result.ok else None
        return int(found.group(1)) if found else None

    def model(self, extra_files: Sequence[str | Path] = ()) -> dict[str, Any]:
        data = json.loads(self.run(["config", "--format", "json"], extra_files=extra_files).stdout)
        return data if isinstance(data, dict) else {}

    def images(self) -> dict[str, str]:
        """{service: image} as compose resolves the files (variables from the env file filled in)."""
        return {name: str(svc.get("image", "")) for name, svc in sorted((self.model().get("services") or {}).items())}

    def services_of(self, containers: Iterable[str]) -> dict[str, str]:
        """{container name: compose service} for the names a service's `container_name` gives."""
        by_name = {str(svc.get("container_name")): name for name, svc in (self.model().get("services") or {}).items()
                   if svc.get("container_name")}
        wanted = list(containers)
        missing = [c for c in wanted if c not in by_name]
        if missing:
            raise ComposeError(f"[compose] files: no service has container_name {', '.join(missing)} "
                               "([services] names the containers compose must create)")
        return {c: by_name[c] for c in wanted}

    def config_hashes(self) -> dict[str, str]:
        """{service: hash} from `config --hash '*'` (lines `SERVICE HASH`)."""
        out = {}
        for line in self.run(["config", "--hash", "*"]).stdout.splitlines():
            parts = line.split()
            if len(parts) == 2:
                out[parts[0]] = parts[1]
        return out

    def up(self, services: Sequence[str], *, extra_files: Sequence[str | Path] = ()) -> CommandResult:
        """`up -d --no-deps SERVICE...`: never `--wait` (health is the suite's own to watch)."""
        return self.run(["up", "-d", "--no-deps", *services], extra_files=extra_files, timeout=UP_TIMEOUT_S)


    def recreate(self, services: Sequence[str]) -> CommandResult:
        """`up -d --no-deps --force-recreate SERVICE...`: for a container compose takes for its own
        (its labels say so) although its definition is not the files' (a rollback that recreated
        it through the Engine API and copied compose's labels)."""
        return self.run(["up", "-d", "--no-deps", "--force-recreate", *services], timeout=UP_TIMEOUT_S)


def compose_of(cfg: TargetConfig, front: Front) -> Compose | None:
    return Compose(cfg.compose, front) if cfg.compose is not None else None


def drift(labels_of: Mapping[str, Mapping[str, str] | None], service_of: Mapping[str, str],
          hashes: Mapping[str, str]) -> dict[str, str]:
    """{container: "in sync" | what differs}: each container's config-hash label against the hash
    compose computes for its service from the files as they are."""
    out = {}
    for container, service in service_of.items():
        labels = labels_of.get(container)
        label = (labels or {}).get(CONFIG_HASH_LABEL) if labels is not None else None
        want = hashes.get(service)
        if labels is None:
            out[container] = "missing"
        elif label == want and want:
            out[container] = "in sync"
        else:
            out[container] = f"drift: label {label or '(none)'} vs config --hash {want or '(none)'}"
    return out


def problems(cfg: TargetConfig, front: Front) -> list[str]:
    """One line per reason the [compose] project cannot be driven from here: a command whose first
    word is not executable, a file missing on the front, or a compose older than v2."""
    compose = compose_of(cfg, front)
    if compose is None:
        return []
    s = compose.section
    checks = [PathCheck("[compose] command", s.command, "cmd"),
              *(PathCheck("[compose] files", str(f), "file") for f in s.files),
              *([PathCheck("[compose] env_file", str(s.env_file), "file")] if s.env_file else [])]
    found = front.path_problems(checks)
    if found:
        return found
    major = compose.version_major()
    if major is None or major < 2:
        return [f"[compose] command: `{s.command} version --short` does not say 2 or later "
                f"({'no answer' if major is None else f'version {major}'}): Compose v2 is required"]
    return []
