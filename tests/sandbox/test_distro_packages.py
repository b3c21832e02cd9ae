"""The images' package lists resolved from this machine's real apt metadata (sandbox/distro.py).

On Debian 12 the resolved closure must hold at least every package of the hand-kept lists the
images were built from before resolution (checked with ldd in a chroot back then), and none of
what the packages files exclude. Nothing is downloaded and no image is built: one apt-cache call
per image, no engine, no ports.
"""
from __future__ import annotations

import shutil
import time

import pytest

from sandbox import distro, front_image, images

pytestmark = [pytest.mark.sandbox, pytest.mark.skipif(shutil.which("apt-cache") is None, reason="no apt here")]

DEBIAN_12 = distro.os_identity().split()[:2] == ["debian", "12"] if shutil.which("apt-cache") else False
only_debian_12 = pytest.mark.skipif(not DEBIAN_12, reason="the hand lists are Debian 12's names")

# sandbox/auraflow/app/packages.txt before resolution (Debian 12 names).
OLD_API = ["libc6", "libgcc-s1", "zlib1g", "libexpat1", "libffi8", "libssl3", "python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "python3-psycopg2", "libpq5", "libgssapi-krb5-2", "libkrb5-3", "libkrb5support0", "libk5crypto3", "libcom-err2", "libkeyutils1", "libldap-2.5-0", "libsasl2-2", "libgnutls30", "libgmp10", "libhogweed6", "libnettle8", "libidn2-0", "libp11-kit0", "libtasn1-6", "libunistring2"]
# sandbox/front/packages.txt before resolution (Debian 12 names).
OLD_FRONT = ["libc6", "libgcc-s1", "zlib1g", "libexpat1", "libffi8", "libssl3", "libbz2-1.0", "liblzma5", "libuuid1", "python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "python3-minimal", "bash", "dash", "coreutils", "libtinfo6", "libacl1", "libattr1", "libgmp10", "libselinux1", "libpcre2-8-0", "openssh-server", "libcrypt1", "libwrap0", "libaudit1", "libaudit-common", "libcap-ng0", "libpam0g", "libsystemd0", "libzstd1", "liblz4-1", "libgcrypt20", "libgpg-error0", "libcap2", "libgssapi-krb5-2", "libkrb5-3", "libkrb5support0", "libk5crypto3", "libcom-err2", "libkeyutils1", "libnsl2", "libtirpc3", "libtirpc-common", "nginx"]


@pytest.fixture(scope="module")
def resolved():
    log: list[str] = []
    out = {}
    for name, module in (("api", images), ("front", front_image)):
        t0 = time.monotonic()
        out[name] = distro.resolve(module.packages(), log.append)
        print(f"{name}: {len(out[name])} packages in {time.monotonic() - t0:.2f} s")
    return out


@only_debian_12
def test_api_closure_holds_the_old_hand_list(resolved):
    missing = sorted(set(OLD_API) - set(resolved["api"]))
    assert not missing, f"resolution lost packages the hand list needed: {missing}"


@only_debian_12
def test_front_closure_holds_the_old_hand_list(resolved):
    missing = sorted(set(OLD_FRONT) - set(resolved["front"]))
    assert not missing, f"resolution lost packages the hand list needed: {missing}"


def test_closures_have_what_the_images_run_and_not_what_is_excluded(resolved):
    for name, module in (("api", images), ("front", front_image)):
        got = resolved[name]
        assert len(got) == len(set(got)), name
        assert set(module.packages().roots) <= set(got)
        assert not set(module.packages().exclude) & set(got), name
        assert "python3-minimal" in got  # /usr/bin/python3, the API image's CMD
        distro.python_version(got)  # exactly one python3.N-minimal
        # Recommends/Suggests and the second alternatives are not followed: no perl, no docs.
        assert not {"perl", "perl-base", "mailcap", "python3.11-doc", "libpq-dev"} & set(got), name
    assert {"nginx", "openssh-server", "dash", "bash", "coreutils", "sudo", "libpam-modules"} <= set(resolved["front"])


def test_front_python_matches_the_runner(resolved):
    """The front image copies this venv's wheels: its python3 must be the same X.Y (else the
    build refuses; this test then says so before a build does)."""
    front_image.check_python(resolved["front"])


def test_every_resolved_package_has_a_candidate(resolved):
    """apt-get download can fetch each one: apt has a candidate version for every name."""
    import subprocess

    names = sorted(set(resolved["api"]) | set(resolved["front"]))
    out = subprocess.run(["apt-cache", "policy", *names], capture_output=True, text=True,
                         timeout=60).stdout
    no_candidate = []
    current = None
    for line in out.splitlines():
        if line and not line.startswith(" "):
            current = line.rstrip(":")
        elif line.strip() == "Candidate: (none)":
            no_candidate.append(current)
    assert not no_candidate
    assert sum(1 for ln in out.splitlines() if ln and not ln.startswith(" ")) == len(names)
