"""Run one job of a GitHub Actions workflow on this machine, step by step, as its runner would.

What a hosted runner does, and what this does instead:
- `run:` steps run as written, in order, with bash (`bash -e {0}`, GitHub's default shell on Linux;
  `shell: bash` adds `--noprofile --norc -o pipefail`), in the workspace, with the job's `env:`,
  the step's `env:`, and what earlier steps appended to `$GITHUB_ENV`. As a given user if asked
  (a hosted runner's user is not root).
- `uses:` steps are mapped, never skipped: `actions/checkout` is a `git clone` of a source
  repository into the workspace (a fresh clone: what is committed, nothing uncommitted);
  `actions/cache/restore` copies from a cache folder (the exact key, else the newest key that
  starts with a `restore-keys` line) and `actions/cache/save` copies into it;
  `actions/upload-artifact` copies into an artifacts folder. Each is mapped at one major (MAPPED:
  the node24 ones) with the inputs it honours. Any other action, major or input is an error: the
  mapping must be taught, and checked against that release, before the workflow may use it.
- `if:` — a step with `if: always()` runs even after a step failed; a step without `if:` runs only
  while every step before it passed. Any other condition is an error.
- `${{ … }}` expressions: context names (`github.workspace`, `secrets.X`, …) and `a || b`. An object
  lacks a key → null, as on GitHub; an unknown context → an error naming it.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from helpers.wait import Countdown, Wait

__all__ = ["JobRun", "StepResult", "WorkflowError", "evaluate", "load_job", "substitute"]

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*")


# The actions mapped here, each at the one major whose behaviour it reproduces (the node24 majors:
# GitHub removed the node20 runtime of the @v4 ones in September 2026), with the inputs it honours
# or may ignore without changing what the job leaves behind (retention-days: how long GitHub keeps
# an artifact; if-no-files-found: warn, the default, never fails the step).
MAPPED: dict[str, tuple[str, frozenset[str]]] = {
    "actions/checkout": ("v7", frozenset({"fetch-depth"})),
    "actions/cache/restore": ("v6", frozenset({"path", "key", "restore-keys"})),
    "actions/cache/save": ("v6", frozenset({"path", "key"})),
    "actions/upload-artifact": ("v7", frozenset({"name", "path", "if-no-files-found", "retention-days"})),
}


class WorkflowError(Exception):
    """The workflow asks for something this runner does not know how to do."""


def evaluate(expression: str, contexts: dict[str, Any]) -> Any:
    """A `${{ }}` expression's value: context paths joined by `||` (the first truthy one)."""
    value: Any = None
    for part in (p.strip() for p in expression.split("||")):
        if len(part) >= 2 and part[0] == part[-1] == "'":
            value = part[1:-1].replace("''", "'")
        elif _NAME.fullmatch(part):
            head, *rest = part.split(".")
            if head not in contexts:
                raise WorkflowError(f"expression {expression!r}: unknown context {head!r}")
            value = contexts[head]
            for key in rest:
                value = value.get(key) if isinstance(value, dict) else None
        else:
            raise WorkflowError(f"expression {expression!r}: only context names, 'strings' and || are supported")
        if value not in (None, "", False, 0):
            return value
    return value


def substitute(text: Any, contexts: dict[str, Any]) -> Any:
    """`text` with every `${{ }}` filled in (null becomes '', as GitHub renders it)."""
    if not isinstance(text, str):
        return text

    def fill(m: re.Match) -> str:
        value = evaluate(m.group(1), contexts)
        return "" if value is None else str(value)

    return _EXPR.sub(fill, text)


def load_job(workflow_file: Path, job: str) -> dict:
    doc = yaml.safe_load(workflow_file.read_text())
    try:
        return doc["jobs"][job]
    except (KeyError, TypeError):
        raise WorkflowError(f"{workflow_file}: no job {job!r}") from None


@dataclass
class StepResult:
    name: str
    ran: bool
    exit_code: int | None
    log: Path | None

    @property
    def ok(self) -> bool:
        return not self.ran or self.exit_code == 0

    def tail(self, lines: int = 40) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class JobRun:
    """One run of `job` of `workflow_file`. `root` holds the runner's folders (the workspace,
    RUNNER_TEMP, the cache, the artifacts, the step logs); `user` runs the steps (None: us)."""
    workflow_file: Path
    job: str
    source_repo: Path
    root: Path
    contexts: dict[str, Any]
    user: str | None = None
    machine_env: dict[str, str] = field(default_factory=dict)  # the runner machine's own settings
    job_timeout_s: float = 3600
    cache_dir: Path | None = None  # shared by the nights of one test: GitHub's cache outlives a runner
    results: list[StepResult] = field(default_factory=list)

    @property
    def workspace(self) -> Path:
        return self.root / "work"

    @property
    def temp(self) -> Path:
        return self.root / "temp"

    @property
    def cache(self) -> Path:
        return self.cache_dir or self.root / "cache"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def step_summary(self) -> Path:
        return self.root / "step_summary.md"

    @property
    def github_env(self) -> Path:
        return self.root / "github_env"

    def run(self) -> list[StepResult]:
        job = load_job(self.workflow_file, self.job)
        for folder in (self.workspace, self.temp, self.cache, self.artifacts, self.root / "logs"):
            folder.mkdir(parents=True, exist_ok=True)
        for f in (self.step_summary, self.github_env):
            f.touch()
        self._give_to_user(self.root)
        self.contexts.setdefault("github", {})["workspace"] = str(self.workspace)
        self.contexts.setdefault("runner", {})["temp"] = str(self.temp)
        job_env = {k: str(substitute(v, self.contexts)) for k, v in (job.get("env") or {}).items()}
        job_left = Wait("the job", min(self.job_timeout_s, float(job.get("timeout-minutes", 360)) * 60)).start()
        failed = False
        for index, step in enumerate(job["steps"]):
            name = step.get("name") or step.get("uses") or f"step {index + 1}"
            condition = str(step.get("if", "")).strip()
            if condition not in ("", "always()", "${{ always() }}"):
                raise WorkflowError(f"step {name!r}: condition {condition!r} is not supported")
            if failed and not condition:
                self.results.append(StepResult(name, False, None, None))
                continue
            log = self.root / "logs" / f"{index + 1:02d}.log"
            code = self._step(step, job_env, log, job_left)
            self.results.append(StepResult(name, True, code, log))
            failed = failed or code != 0
        return self.results

    # -- one step ---------------------------------------------------------------------------
    def _step(self, step: dict, job_env: dict[str, str], log: Path, job_left: Countdown) -> int:
        with_ = {k: substitute(v, self.contexts) for k, v in (step.get("with") or {}).items()}
        if "uses" in step:
            action, _, ref = str(step["uses"]).partition("@")
            handler = {"actions/checkout": self._checkout, "actions/cache/restore": self._cache_restore,
                       "actions/cache/save": self._cache_save,
                       "actions/upload-artifact": self._upload}.get(action)
            if handler is None:
                raise WorkflowError(f"action {step['uses']!r} has no mapping here")
            major, inputs = MAPPED[action]
            if ref.split(".")[0] != major:  # v7 and v7.0.1 are the major v7; a commit SHA is not known
                raise WorkflowError(f"action {step['uses']!r}: mapped at {action}@{major} only")
            unknown = sorted(set(with_) - inputs)
            if unknown:
                raise WorkflowError(f"action {step['uses']!r}: input(s) {', '.join(unknown)} not emulated here")
            if action == "actions/checkout":
                return self._checkout(with_, log)
            with open(log, "w") as out:
                return handler(with_, out)
        env = {**self._base_env(), **job_env, **self._github_env_additions(),
               **{k: str(substitute(v, self.contexts)) for k, v in (step.get("env") or {}).items()}}
        script = self.root / "logs" / (log.stem + ".sh")
        script.write_text(substitute(step["run"], self.contexts))
        self._give_to_user(script)
        shell = ["bash", "--noprofile", "--norc", "-eo", "pipefail"] if step.get("shell") == "bash" \
            else ["bash", "-e"]
        return self._execute([*shell, str(script)], env, log, job_left)

    def _base_env(self) -> dict[str, str]:
        home = Path(os.path.expanduser(f"~{self.user}")) if self.user else Path.home()
        return {"HOME": str(home), "USER": self.user or os.environ.get("USER", ""),
                "LOGNAME": self.user or os.environ.get("USER", ""),
                "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "CI": "true",
                "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(self.workspace),
                "RUNNER_TEMP": str(self.temp), "GITHUB_ENV": str(self.github_env),
                "GITHUB_STEP_SUMMARY": str(self.step_summary),
                "GITHUB_RUN_ID": str(self.contexts["github"].get("run_id", "")),
                "GITHUB_RUN_NUMBER": str(self.contexts["github"].get("run_number", "")),
                **self.machine_env}

    def _github_env_additions(self) -> dict[str, str]:
        """KEY=VALUE lines (and KEY<<DELIM … DELIM blocks) earlier steps appended to $GITHUB_ENV."""
        out: dict[str, str] = {}
        lines = self.github_env.read_text().splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
                key, delim = line.split("<<", 1)
                end = lines.index(delim, i + 1)
                out[key] = "\n".join(lines[i + 1:end])
                i = end + 1
                continue
            if "=" in line:
                key, value = line.split("=", 1)
                out[key] = value
            i += 1
        return out

    def _execute(self, argv: list[str], env: dict[str, str], log: Path, job_left: Countdown) -> int:
        if self.user:
            argv = ["runuser", "-u", self.user, "--", "env", "-i", *[f"{k}={v}" for k, v in env.items()], *argv]
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        with open(log, "w") as out:
            proc = subprocess.Popen(argv, cwd=self.workspace, env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                return proc.wait(timeout=max(1.0, job_left.remaining()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the job's timeout-minutes: GitHub cancels
                proc.wait()
                out.write("\n[runner] job timeout: step killed\n")
                return 124

    def _give_to_user(self, path: Path) -> None:
        if self.user:
            subprocess.run(["chown", "-R", f"{self.user}:", str(path)], check=True)

    # -- the mapped actions -----------------------------------------------------------------
    def _checkout(self, with_: dict, log: Path) -> int:
        """A fresh clone of the source repository, handed to the job's user as a runner's checkout
        is its own. Cloned by us: the source may sit where that user cannot read (under /root)."""
        depth = int(with_.get("fetch-depth", 1))
        argv = ["git", "-c", "safe.directory=*", "clone", "--quiet", "--no-local"]
        if depth > 0:
            argv += ["--depth", str(depth)]
        with open(log, "w") as out:
            code = subprocess.run([*argv, f"file://{self.source_repo}", str(self.workspace)],
                                  stdout=out, stderr=subprocess.STDOUT, timeout=300).returncode
        self._give_to_user(self.workspace)
        return code

    def _paths(self, with_: dict) -> list[str]:
        return [p.strip() for p in str(with_.get("path", "")).splitlines() if p.strip()]

    def _cache_restore(self, with_: dict, out) -> int:
        key = str(with_["key"])
        candidates = [self.cache / key] if (self.cache / key).is_dir() else []
        for prefix in (p.strip() for p in str(with_.get("restore-keys", "")).splitlines() if p.strip()):
            found = sorted((d for d in self.cache.iterdir() if d.name.startswith(prefix)),
                           key=lambda d: d.stat().st_mtime, reverse=True)
            candidates += found
        if not candidates:
            out.write(f"cache not found for key {key}\n")
            return 0  # a cache miss is not a failure on GitHub either
        hit = candidates[0]
        for rel in self._paths(with_):
            src = hit / rel
            if src.is_dir():
                shutil.copytree(src, self.workspace / rel, dirs_exist_ok=True)
            elif src.exists():
                (self.workspace / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, self.workspace / rel)
        self._give_to_user(self.workspace)
        out.write(f"cache restored from {hit.name}\n")
        return 0

    def _cache_save(self, with_: dict, out) -> int:
        target = self.cache / str(with_["key"])
        if target.exists():
            out.write(f"cache {target.name} exists; not saved again\n")
            return 0
        saved = 0
        for rel in self._paths(with_):
            src = self.workspace / rel
            if src.is_dir():
                shutil.copytree(src, target / rel)
                saved += 1
            elif src.exists():
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target / rel)
                saved += 1
        out.write(f"cache {target.name}: {saved} path(s) saved\n")
        return 0

    def _upload(self, with_: dict, out) -> int:
        target = self.artifacts / str(with_["name"])
        for rel in self._paths(with_):
            src = self.workspace / rel
            if src.is_dir():
                shutil.copytree(src, target / rel, dirs_exist_ok=True)
            elif src.exists():
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target / rel)
            elif with_.get("if-no-files-found", "warn") == "error":
                out.write(f"no files at {rel}\n")
                return 1
        out.write(f"artifact {target.name} uploaded\n")
        return 0
