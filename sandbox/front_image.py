"""The front host's image: its own root filesystem, built offline like the API images.

The distribution's packages for the roots in front/packages.txt (sshd, nginx, bash, coreutils,
dash, python3) and their dependency closure (resolved from apt's metadata by distro.py, as for
the API images) are unpacked with the API images' builder and cache (images.py); then the
runbook's scripts and their tools go to /opt/aura/sandbox/auraflow (scripts/, deploy/, tools/,
migrations/: the same files the single-host layout runs), and their Python
dependencies to /opt/aura/site.

Those dependencies are the project's pinned ones, not the distribution's (bookworm's
python3-docker, -alembic and -sqlalchemy are older than pyproject.toml allows): the files of each
distribution the runner's environment installed from requirements.lock (its RECORD), copied as
they are. That is offline and exact, and right for the front's interpreter only when both are the
same CPython X.Y on glibc (the cpXY manylinux wheels: psycopg-binary, SQLAlchemy, MarkupSafe):
a build whose resolved python3 is another version than the runner's is refused, naming both. A
version that differs from requirements.lock is refused too: the image would not run what the
project pins.

One image per build hash (package roots, resolver, distribution, tool sources, pinned versions,
the runner's Python X.Y, recipe), tagged aura-front:<hash>; a current one is reused.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata as md
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors

from . import distro, images
from .engine_client import model_id
from .errors import SandboxError
from .layout import PROJECT_DIR, SANDBOX_DIR, Layout
from .podman_service import clean_upload_leftovers

Log = Callable[[str], None]

REPOSITORY = "aura-front"
RECIPE = "aura-front-rootfs/3"  # bump when the way the rootfs is assembled changes (its extra files are hashed)
PACKAGES_FILE = SANDBOX_DIR / "front" / "packages.txt"
APP_DIR = "/opt/aura"  # the runbook's scripts live at /opt/aura/sandbox/auraflow/scripts/*.sh on the front
SITE_DIR = "/opt/aura/site"
# What the tools import; their dependencies follow from each distribution's metadata.
ROOT_DISTRIBUTIONS = ["docker", "psycopg", "psycopg-binary", "alembic", "sqlalchemy"]
# The runbook's side of the sandbox package: nothing of the sandbox's own machinery (up/down).
TOOL_FILES = ["__init__.py", "auraflow/__init__.py", "auraflow/scripts", "auraflow/deploy", "auraflow/tools",
              "auraflow/migrations", "front/front_exec.py"]  # the remote half of the wrapper (front_host.write_wrapper)

SSH_USER = "aura"  # the front's (and the bastion's) only SSH login: not root, owns no nginx file
SSH_UID = 1000
SUDO = "usr/bin/sudo"

# No maintainer scripts run under dpkg -x: the accounts, folders and settings they would have made.
EXTRA_FILES = {
    "etc/passwd": ("root:x:0:0:root:/root:/bin/bash\n"
                   "sshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n"
                   f"{SSH_USER}:x:{SSH_UID}:{SSH_UID}:Aura Flow deploy user:/home/{SSH_USER}:/bin/bash\n"
                   "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"),
    "etc/group": f"root:x:0:\nnogroup:x:65534:\n{SSH_USER}:x:{SSH_UID}:\n",
    "etc/hostname": "aura-front\n",
    # The deploy user may run anything as root without a password (sudo -n never prompts).
    "etc/sudoers": ("Defaults env_reset\nDefaults !lecture\nDefaults !syslog\n"
                    "root ALL=(ALL:ALL) ALL\n"
                    f"{SSH_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n"),
    # Debian's /etc/pam.d/sudo and /etc/pam.d/other include common-auth and friends, which
    # pam-auth-update writes from libpam-runtime's postinst: never run here, and libpam reads
    # `other` (the default for any service) on every start, so a missing include there aborts
    # sudo ("unable to initialize PAM: Critical error"). Own stacks instead: the sudoers rule
    # above is sudo's whole policy (NOPASSWD skips auth; account and session have nothing to
    # check); every other service is denied.
    "etc/pam.d/sudo": "auth required pam_deny.so\naccount required pam_permit.so\nsession required pam_permit.so\n",
    "etc/pam.d/other": ("auth required pam_deny.so\naccount required pam_deny.so\n"
                        "password required pam_deny.so\nsession required pam_deny.so\n"),
    # Debian's site.py reads .pth files in dist-packages: `python3 -m …` finds the pinned libraries.
    "usr/lib/python3/dist-packages/aura-site.pth": SITE_DIR + "\n",
}
EXTRA_DIRS = ["root", "run/sshd", "tmp", "var/log/nginx", "var/lib/nginx", "etc/aura-front", f"home/{SSH_USER}"]
MODES = {"etc/sudoers": 0o440, SUDO: 0o4755}  # sudo refuses a sudoers file others may read or write


def packages() -> distro.PackageList:
    """The roots (and exclusions) of front/packages.txt; distro.resolve() makes the full list."""
    return distro.read_package_list(PACKAGES_FILE)


def check_python(resolved: list[str]) -> None:
    """The pinned wheels copied from the runner's environment are for its CPython X.Y: refuse a
    front whose python3 is another version rather than ship an ABI it cannot load."""
    front = distro.python_version(resolved)
    runner = tuple(sys.version_info[:2])
    if front != runner:
        raise SandboxError(
            f"the front image's python3 would be {front[0]}.{front[1]} ({distro.os_identity()}), "
            f"the runner's environment is Python {runner[0]}.{runner[1]} ({sys.executable}): its "
            f"pinned wheels would not load there; run the sandbox from a {front[0]}.{front[1]} venv")


# -- the pinned Python distributions ----------------------------------------------------------
def _pins() -> dict[str, str]:
    pins = {}
    for line in (PROJECT_DIR / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", line)
        if m:
            pins[_norm(m.group(1))] = m.group(2)
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions() -> list[md.Distribution]:
    """The closure of ROOT_DISTRIBUTIONS in this interpreter's environment, each at its pin."""
    from packaging.requirements import Requirement

    pins = _pins()
    seen: dict[str, md.Distribution] = {}
    todo = list(ROOT_DISTRIBUTIONS)
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            raise SandboxError(f"Python package {name} is not installed in {sys.prefix}: "
                               "run ./aura once (it installs requirements.lock)") from None
        if name in pins and dist.version != pins[name]:
            raise SandboxError(f"{name} {dist.version} is installed, requirements.lock pins {pins[name]}: "
                               "run ./aura once to reinstall the pinned set")
        seen[name] = dist
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return sorted(seen.values(), key=lambda d: _norm(d.metadata["Name"]))


def _copy_distribution(dist: md.Distribution, site: Path) -> int:
    """Copy a distribution's installed files (as its RECORD lists them) into `site`."""
    base = Path(str(dist.locate_file(""))).resolve()
    copied = 0
    for rel in dist.files or []:
        src = Path(str(dist.locate_file(rel))).resolve()
        if not src.is_relative_to(base) or not src.is_file():
            continue  # console scripts in ../../bin, and RECORD lines of files since removed
        dst = site / src.relative_to(base)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        copied += 1
    return copied


# -- build ------------------------------------------------------------------------------------
def _tool_sources() -> list[Path]:
    out = []
    for name in TOOL_FILES:
        p = SANDBOX_DIR / name
        out += sorted(f for f in p.rglob("*") if f.is_file() and "__pycache__" not in f.parts) if p.is_dir() else [p]
    return out


def build_hash() -> str:
    h = hashlib.sha256(RECIPE.encode())
    h.update(packages().key().encode() + b"\0" + images.distribution_key())
    h.update(f"\0python {sys.version_info[0]}.{sys.version_info[1]}\0".encode())  # the wheels' ABI
    # the files, folders and modes written over the packages (accounts, sudoers, PAM)
    h.update(repr((sorted(EXTRA_FILES.items()), EXTRA_DIRS, sorted(MODES.items()))).encode())
    for f in _tool_sources():
        h.update(str(f.relative_to(SANDBOX_DIR)).encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    for d in distributions():
        h.update(f"{d.metadata['Name']}=={d.version}\n".encode())
    return h.hexdigest()[:16]


def image_ref(bhash: str) -> str:
    return f"{REPOSITORY}:{bhash}"


def ensure_image(client: docker.DockerClient, layout: Layout, log: Log) -> str:
    """The id of the current front image, built (once per build hash) if missing."""
    bhash = build_hash()
    image = images._get(client, image_ref(bhash))
    if image is not None and (image.labels or {}).get(images.BUILD_LABEL) == bhash:
        return image.id
    with images._build_lock(layout):  # the API images' lock: one builder of the shared cache
        image = images._get(client, image_ref(bhash))
        if image is not None:
            return image.id
        t0 = time.monotonic()
        log(f"front: building image {image_ref(bhash)}")
        tarball = _rootfs(layout, bhash, log)
        try:
            out = client.api.import_image(src=str(tarball), changes=[
                "ENV PYTHONDONTWRITEBYTECODE=1", f"LABEL {images.BUILD_LABEL}={bhash}",
                "CMD [\"/usr/sbin/sshd\", \"-D\", \"-e\"]"])
            image_id = images._imported_id(out)
        finally:
            clean_upload_leftovers(layout)
            tarball.unlink(missing_ok=True)  # one image per hash: the tarball is not reused
        if image_id is None:
            raise SandboxError(f"import of the front image returned no id: {out!r:.300}")
        client.images.get(image_id).tag(REPOSITORY, bhash)
        log(f"front: image {image_ref(bhash)} built in {time.monotonic() - t0:.1f} s")
        _prune_outdated(client, image_id)
        return image_id


def _prune_outdated(client: docker.DockerClient, keep_id: str) -> None:
    """Best effort: drop front images of older builds. One that a front container still runs
    (another state folder's) refuses removal, and stays."""
    for image in client.images.list(filters={"label": images.BUILD_LABEL}):
        if image.id != keep_id and any(t.rpartition(":")[0].endswith(REPOSITORY) for t in image.tags):
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(model_id(image))


def _rootfs(layout: Layout, bhash: str, log: Log) -> Path:
    cache = layout.image_cache
    names = distro.resolve(packages(), log)
    check_python(names)  # before any download: the wheels must fit the front's python3
    debs = images.download_checked(cache, names, log)
    with tempfile.TemporaryDirectory(dir=cache, prefix="front-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        images.unpack(debs, root)
        for rel in EXTRA_DIRS:
            (root / rel).mkdir(parents=True, exist_ok=True)
        (root / "tmp").chmod(0o1777)
        (root / "root").chmod(0o700)
        for rel, text in EXTRA_FILES.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        for rel, mode in MODES.items():  # set, not trusted to dpkg -x: sudo is useless without setuid
            (root / rel).chmod(mode)
        app = root / APP_DIR.lstrip("/") / "sandbox"
        for f in _tool_sources():
            dst = app / f.relative_to(SANDBOX_DIR)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dst)
        site = root / SITE_DIR.lstrip("/")
        files = sum(_copy_distribution(d, site) for d in distributions())
        log(f"front: {files} files of {len(distributions())} pinned Python distributions in {SITE_DIR}")
        tarball = cache / f"front-{bhash}.tar"
        part = Path(tmp) / "rootfs.tar"
        images._run(["tar", "-C", str(root), "--numeric-owner", "--owner=0", "--group=0",
                     "--exclude=./usr/share/doc", "--exclude=./usr/share/man",
                     "--exclude=./usr/share/locale", "-cf", str(part), "."])
        part.replace(tarball)
    return tarball
