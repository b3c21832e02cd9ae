"""The aura-api images, built from Debian packages without any registry (PLATFORM.md).

No base image can be pulled here, so the rootfs is made from the distribution's own packages:
app/packages.txt names the roots (python3, python3-psycopg2), distro.py resolves their dependency
closure from apt's metadata when a build is needed, and `apt-get download` + `dpkg -x` of each
into one folder, plus /app/aura_api.py, make the rootfs; the tarball is imported once per
release tag with `ENV AURA_VERSION=<tag>`. All tags share that one tarball. The interpreter is
the distribution's python3 (`/usr/bin/python3`, whichever version that is).

Build once, reuse: every image carries LABEL aura.build=<hash of app source, the roots and
exclusions of the package list, the resolver, this recipe and the distribution's identity
(os-release ID, VERSION_ID)>; an image whose label matches is kept, and nothing is resolved.
`stable` is a second tag on v1.0.0's image.

Podman 4.3's compat API ignores the `tag` parameter of an import and names images
`docker.io/library/aura-api` (the `podman import` CLI says `localhost/aura-api`), so we import
untagged and tag by image id, then read the repository name back from the engine.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors

from . import distro
from .engine_client import model_id
from .errors import SandboxError
from .layout import (
    BAD_TAG,
    IMAGE_REPOSITORY,
    NEXT_VERSION,
    RELEASES,
    SANDBOX_DIR,
    STABLE_TAG,
    STABLE_VERSION,
    Layout,
    image_repository as repository_name,
)
from .podman_service import clean_upload_leftovers

Log = Callable[[str], None]

APP_SOURCE = SANDBOX_DIR / "auraflow" / "app" / "aura_api.py"
PACKAGES_FILE = SANDBOX_DIR / "auraflow" / "app" / "packages.txt"
BUILD_LABEL = "aura.build"
VERSION_LABEL = "aura.version"
CMD = ["/usr/bin/python3", "-u", "/app/aura_api.py"]  # the distribution's python3, any version
RECIPE = "aura-api-rootfs/2"  # bump when the way the rootfs is assembled changes
VERSIONS = list(RELEASES)  # v1.0.0, v1.1.0, v2.0.0, v1.2.0-bad
assert STABLE_VERSION in VERSIONS and NEXT_VERSION in VERSIONS and BAD_TAG in VERSIONS

# Files every container expects but no package we unpack provides (no maintainer scripts run).
EXTRA_FILES = {
    "etc/passwd": ("root:x:0:0:root:/root:/usr/sbin/nologin\n"
                   "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"),
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
}


DEFAULT_REPOSITORY = IMAGE_REPOSITORY


def repository() -> str:
    """layout.image_repository() (the environment's choice), or this module's IMAGE_REPOSITORY
    when a test replaced it."""
    return IMAGE_REPOSITORY if IMAGE_REPOSITORY != DEFAULT_REPOSITORY else repository_name()


def packages() -> distro.PackageList:
    """The roots (and exclusions) of app/packages.txt; distro.resolve() makes the full list."""
    return distro.read_package_list(PACKAGES_FILE)


def distribution_key() -> bytes:
    """What the resolved package list depends on besides the roots: the distribution (another
    one, or another release, offers other packages) and the resolver's own code."""
    return distro.os_identity().encode() + b"\0" + Path(distro.__file__).read_bytes()


def build_hash() -> str:
    """What an image must have been built from to be reused: app, package roots, recipe,
    distribution. Cheap (no apt call): the closure is resolved only when a build is needed."""
    h = hashlib.sha256()
    for part in (RECIPE.encode(), CMD.__repr__().encode(), APP_SOURCE.read_bytes(),
                 packages().key().encode(), distribution_key()):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:16]


# -- engine side --------------------------------------------------------------------------------
def _get(client: docker.DockerClient, ref: str):
    try:
        return client.images.get(ref)
    except docker.errors.ImageNotFound:
        return None


def _is_current(image, version: str, bhash: str) -> bool:
    labels = image.labels or {}
    return labels.get(BUILD_LABEL) == bhash and labels.get(VERSION_LABEL) == version


def image_repository(client: docker.DockerClient) -> str:
    """The repository name as the engine reports it (docker.io/library/aura-api on Podman's
    compat API, aura-api on Docker); what goes into the config's [docker] image."""
    image = _get(client, f"{repository()}:{STABLE_VERSION}")
    if image is None:
        raise SandboxError(f"image {repository()}:{STABLE_VERSION} not found; build it first")
    for ref in image.tags:
        repo, _, tag = ref.rpartition(":")
        if tag == STABLE_VERSION and repo.rsplit("/", 1)[-1] == repository():
            return repo
    return repository()


def ensure_images(client: docker.DockerClient, layout: Layout, log: Log) -> dict[str, str]:
    """Make every release tag and `stable` exist and be current; return {tag: image id}.

    Warm path (all labels match): a handful of inspect calls, no build.
    """
    bhash = build_hash()
    missing = _missing(client, bhash)
    if missing:
        # One builder at a time on this machine: the cache and (for Podman) the image store are
        # shared by every sandbox, so re-check after taking the lock; another may have built.
        with _build_lock(layout):
            missing = _missing(client, bhash)
            if missing:
                t0 = time.monotonic()
                log(f"images: building {', '.join(missing)} (build {bhash})")
                tarball = ensure_rootfs(layout, bhash, log)
                try:
                    for version in missing:
                        _import(client, tarball, version, bhash, log)
                finally:
                    clean_upload_leftovers(layout)  # Podman leaks each upload (engine.py)
                log(f"images: built {len(missing)} image(s) in {time.monotonic() - t0:.1f} s")

    ids = {v: model_id(client.images.get(f"{repository()}:{v}")) for v in VERSIONS}
    stable = _get(client, f"{repository()}:{STABLE_TAG}")
    if stable is None or stable.id != ids[STABLE_VERSION]:
        client.images.get(ids[STABLE_VERSION]).tag(repository(), STABLE_TAG)
        log(f"images: tagged {STABLE_TAG} -> {STABLE_VERSION}")
    ids[STABLE_TAG] = model_id(client.images.get(f"{repository()}:{STABLE_TAG}"))
    if ids[STABLE_TAG] != ids[STABLE_VERSION]:
        raise SandboxError(f"{repository()}:{STABLE_TAG} is {ids[STABLE_TAG]}, "
                           f"not {STABLE_VERSION}'s {ids[STABLE_VERSION]}")
    if missing:
        _prune_outdated(client, bhash)
    return ids


def _missing(client: docker.DockerClient, bhash: str) -> list[str]:
    return [v for v in VERSIONS
            if not ((im := _get(client, f"{repository()}:{v}")) and _is_current(im, v, bhash))]


@contextlib.contextmanager
def _build_lock(layout: Layout):
    layout.image_cache.mkdir(parents=True, exist_ok=True)
    with open(layout.image_cache / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _import(client: docker.DockerClient, tarball: Path, version: str, bhash: str, log: Log) -> None:
    changes = [
        f"ENV AURA_VERSION={version}",
        "ENV PYTHONDONTWRITEBYTECODE=1",
        f"CMD {json.dumps(CMD)}",
        "WORKDIR /app",
        f"LABEL {BUILD_LABEL}={bhash}",
        f"LABEL {VERSION_LABEL}={version}",
    ]
    t0 = time.monotonic()
    # Untagged import, then tag by id: Podman ignores `tag` here (see module docstring).
    out = client.api.import_image(src=str(tarball), changes=changes)
    image_id = _imported_id(out)
    if image_id is None:
        raise SandboxError(f"import of {tarball} for {version} returned no image id: {out!r:.300}")
    client.images.get(image_id).tag(repository(), version)
    log(f"images: {repository()}:{version} = {image_id[:19]} ({time.monotonic() - t0:.1f} s)")


def _prune_outdated(client: docker.DockerClient, bhash: str) -> None:
    """Best effort: drop untagged images of older builds. One still used by a container (maybe
    another sandbox's) refuses removal, and that is fine."""
    for image in client.images.list(filters={"label": BUILD_LABEL}):
        if not image.tags and (image.labels or {}).get(BUILD_LABEL) != bhash:
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(model_id(image))


def _imported_id(out) -> str | None:
    """The image id from /images/create's streamed JSON lines (Docker and Podman differ)."""
    text = out if isinstance(out, str) else out.decode() if isinstance(out, bytes) else json.dumps(out)
    for line in text.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("error"):
            raise SandboxError(f"image import failed: {msg['error']}")
        for key in ("id", "status"):  # Podman: "id"; Docker: {"status": "sha256:..."}
            val = msg.get(key) or ""
            if isinstance(val, str) and val.startswith("sha256:"):
                return val
    return None


# -- rootfs ---------------------------------------------------------------------------------------
def ensure_rootfs(layout: Layout, bhash: str, log: Log) -> Path:
    """The rootfs tarball for this build hash, made once and kept in layout.image_cache.

    Call with _build_lock held: the cache is shared between state folders (and concurrent test
    runs); the tarball is written to a temp name and renamed, so a killed build leaves no half.
    """
    cache = layout.image_cache
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"rootfs-{bhash}.tar"
    if tarball.exists():
        return tarball
    for leftover in cache.glob("rootfs-*"):  # a killed build's temp folder (we hold the lock)
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
    names = distro.resolve(packages(), log)
    debs = download_checked(cache, names, log)
    with tempfile.TemporaryDirectory(dir=cache, prefix="rootfs-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        t0 = time.monotonic()
        unpack(debs, root)
        app = root / "app"
        app.mkdir()
        shutil.copy2(APP_SOURCE, app / "aura_api.py")
        for rel, text in EXTRA_FILES.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        (root / "tmp").mkdir(mode=0o1777, exist_ok=True)
        os.chmod(root / "tmp", 0o1777)
        part = Path(tmp) / "rootfs.tar"
        _run(["tar", "-C", str(root), "--numeric-owner", "--owner=0", "--group=0",
              "--exclude=./usr/share/doc", "--exclude=./usr/share/man",
              "--exclude=./usr/share/locale", "-cf", str(part), "."])
        os.replace(part, tarball)
    log(f"images: rootfs {tarball.name} {tarball.stat().st_size / 1e6:.0f} MB "
        f"({time.monotonic() - t0:.1f} s to unpack and pack)")
    for stale in cache.glob("rootfs-*.tar"):  # keep only the current tarball
        if stale != tarball:
            stale.unlink(missing_ok=True)
    return tarball


def deb_dir(cache: Path) -> Path:
    """Downloaded .deb files, one folder per distribution: the same package name (libc6) on
    another distribution or release is another file, never a cached one of the wrong kind."""
    ident = "-".join(distro.os_identity().split()[:2]) or "unknown"
    return cache / "debs" / ident


def download_checked(cache: Path, names: list[str], log: Log) -> list[Path]:
    """One readable .deb per name: a truncated download of a killed run is fetched again, once."""
    debdir = deb_dir(cache)
    debs = _download(debdir, names, log)
    broken = [deb for deb in debs if subprocess.run(["dpkg-deb", "--info", str(deb)],
                                                    capture_output=True).returncode != 0]
    if broken:
        log(f"images: {len(broken)} cached package(s) unreadable, downloading again")
        for deb in broken:
            deb.unlink(missing_ok=True)
        debs = _download(debdir, names, log)
    return debs


# Merged /usr: where a distribution's packages put their files under /usr only (the /bin, /lib,
# … links of a merged system are made by base-files or its installer, not unpacked), the rootfs
# would lack /lib64 (the ELF interpreter's path) or /bin/sh. A top-level folder that no package
# made becomes the link a merged system has. On Debian 12 libc6 still ships /lib and /lib64 and
# bash/dash ship /bin (the front); only the API image's unused /bin and /sbin become links.
MERGED_USR = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"]


def unpack(debs: list[Path], root: Path) -> None:
    for deb in debs:
        _run(["dpkg", "-x", str(deb), str(root)])
    for name in MERGED_USR:
        if not os.path.lexists(root / name) and (root / "usr" / name).is_dir():
            os.symlink(f"usr/{name}", root / name)


def _download(debdir: Path, names: list[str], log: Log) -> list[Path]:
    """Return one .deb per package, downloading those not yet cached."""
    debdir.mkdir(parents=True, exist_ok=True)
    have = {n: sorted(debdir.glob(f"{n}_*.deb")) for n in names}
    need = [n for n in names if not have[n]]
    if need:
        log(f"images: apt-get download {len(need)} package(s) into {debdir}")
        t0 = time.monotonic()
        # Sandbox user root: the _apt user cannot write into a root-owned cache folder.
        cmd = ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", *need]
        proc = subprocess.run(cmd, cwd=debdir, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0 and "Unable to locate package" in proc.stderr:
            log("images: apt lists missing or old; running apt-get update")
            _run(["apt-get", "update", "-q"], timeout=300)
            proc = subprocess.run(cmd, cwd=debdir, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise SandboxError(f"apt-get download failed: {proc.stderr.strip().splitlines()[-1:]}")
        log(f"images: downloaded in {time.monotonic() - t0:.1f} s")
        have = {n: sorted(debdir.glob(f"{n}_*.deb")) for n in names}
    missing = [n for n in names if not have[n]]
    if missing:
        raise SandboxError(f"no .deb for {missing} in {debdir} after apt-get download")
    # Several versions cached (a point release came out): the one downloaded last.
    return [max(have[n], key=lambda p: p.stat().st_mtime) for n in names]


def _run(cmd: list[str], timeout: float = 120) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise SandboxError(f"{' '.join(cmd[:3])} failed ({proc.returncode}): "
                           f"{proc.stderr.strip()[-300:]}")
