"""./aura's package step: a runc (and a dockerd) already on PATH is enough (GitHub's ubuntu runner has
containerd.io's runc, which conflicts with the distribution's runc package).

The real script runs from a scratch copy of the project's top (its own requirements.lock and a
fake .venv whose stamp matches, so nothing is installed), with a PATH of fakes: dpkg-query says
nothing is installed, apt-get only records its arguments.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PROJECT = Path(__file__).resolve().parents[2]
TOOLS = ["readlink", "dirname", "grep", "sha256sum", "cut", "cat"]


@pytest.fixture
def scratch(tmp_path):
    top = tmp_path / "top"
    top.mkdir()
    shutil.copy2(PROJECT / "aura", top / "aura")
    (top / "requirements.lock").write_text("pytest==9.2.0\n")
    venv_bin = top / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (top / ".venv" / ".requirements-lock.sha256").write_text(
        hashlib.sha256(b"pytest==9.2.0\n").hexdigest() + "\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        real = shutil.which(tool)
        assert real, tool
        (bin_dir / tool).symlink_to(real)
    log = tmp_path / "calls.log"

    def fake(path: Path, body: str) -> None:
        path.write_text(f"#!{shutil.which('bash')}\n{body}\n")
        path.chmod(0o755)

    fake(bin_dir / "id", "echo 0")  # as_root runs the command itself
    fake(bin_dir / "dpkg-query", "exit 1")  # nothing installed
    fake(bin_dir / "apt-get", f'echo "apt-get $*" >> {log}')
    fake(venv_bin / "python", f'echo "python $*" >> {log}')
    return top, bin_dir, log


def run_aura(top: Path, bin_dir: Path, log: Path) -> list[str]:
    proc = subprocess.run([shutil.which("bash"), str(top / "aura"), "sandbox", "status"],
                          env={"PATH": str(bin_dir), "HOME": str(top)}, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return log.read_text().splitlines()


def test_installs_runc_when_no_runc_binary_exists(scratch):
    calls = run_aura(*scratch)
    install = [c for c in calls if c.startswith("apt-get install")]
    assert len(install) == 1 and " runc" in install[0] and " podman" in install[0], calls
    assert calls[-1] == "python -m sandbox status"


def test_a_runc_on_path_satisfies_the_need(scratch):
    top, bin_dir, log = scratch
    runc = bin_dir / "runc"
    runc.write_text("#!/bin/sh\nexit 0\n")
    runc.chmod(0o755)
    calls = run_aura(top, bin_dir, log)
    install = [c for c in calls if c.startswith("apt-get install")]
    assert len(install) == 1, calls
    words = install[0].split()
    assert "runc" not in words and {"nginx", "podman", "postgresql"} <= set(words), calls
    assert calls[-1] == "python -m sandbox status"
    assert os.access(runc, os.X_OK)


def test_lint_runs_every_check_and_fails_naming_the_ones_that_failed(scratch):
    top, bin_dir, log = scratch
    (top / ".github" / "workflows").mkdir(parents=True)
    (top / ".github" / "workflows" / "nightly.yml").write_text("on: push\n")
    (bin_dir / "shellcheck").symlink_to(shutil.which("true"))
    for tool, status in (("ruff", 0), ("mypy", 1), ("actionlint", 0), ("check-jsonschema", 0)):
        fake = top / ".venv" / "bin" / tool
        fake.write_text(f'#!{shutil.which("bash")}\necho "{tool} $*" >> {log}\nexit {status}\n')
        fake.chmod(0o755)
    proc = subprocess.run([shutil.which("bash"), str(top / "aura"), "lint"], env={"PATH": str(bin_dir),
                          "HOME": str(top)}, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "aura: lint failed: mypy"
    calls = [c for c in log.read_text().splitlines() if not c.startswith("apt-get")]
    assert calls == ["ruff check .", "mypy ", f"actionlint -shellcheck {bin_dir / 'shellcheck'}",
                     "check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/nightly.yml"]
    assert any(c.startswith("apt-get install") and "shellcheck" in c for c in log.read_text().splitlines())


def test_lint_takes_no_arguments(scratch):
    top, bin_dir, _ = scratch
    proc = subprocess.run([shutil.which("bash"), str(top / "aura"), "lint", "--fix"], env={"PATH": str(bin_dir),
                          "HOME": str(top)}, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and proc.stderr == "aura: lint takes no arguments (got: --fix)\n"


def test_installs_docker_io_only_when_no_dockerd_binary_exists(scratch):
    # GitHub's runner has docker-ce, whose dockerd conflicts with Debian's docker.io: any dockerd on
    # PATH is enough, and ./aura never starts one (the sandbox runs its own, under its state folder).
    top, bin_dir, log = scratch
    first = next(c for c in run_aura(top, bin_dir, log) if c.startswith("apt-get install"))
    assert "docker.io" in first.split()
    log.unlink()
    dockerd = bin_dir / "dockerd"
    dockerd.write_text("#!/bin/sh\necho started >> " + str(log) + "\n")
    dockerd.chmod(0o755)
    calls = run_aura(top, bin_dir, log)
    install = [c for c in calls if c.startswith("apt-get install")]
    assert len(install) == 1 and "docker.io" not in install[0].split(), calls
    assert "started" not in calls
