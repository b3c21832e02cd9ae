"""sandbox/distro.py: parsing `apt-cache depends --recurse` output and choosing the closure.

The samples are cut from real output on Debian 12 (`apt-cache depends --recurse --no-recommends
--no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances …`), trimmed to the lines
each case needs; the Recommends/Suggests lines are what apt prints without the --no-* options.
"""
from __future__ import annotations

import sys

import pytest

from sandbox import distro, front_image, images
from sandbox.distro import PackageList, closure, parse_depends
from sandbox.errors import SandboxError

pytestmark = pytest.mark.unit

# python3-psycopg2's `python3:any` is a virtual name provided by python3; `media-types |
# mime-support` is an alternative (mime-support pulls mailcap and perl: never taken); PreDepends.
PYTHON = """\
python3
  PreDepends: python3-minimal
  Depends: python3.11
python3-psycopg2
  Depends: python3
  Depends: <python3:any>
    python3
  Depends: libpq5
  Recommends: libpq-dev
python3-minimal
  PreDepends: python3.11-minimal
python3.11
  Depends: python3.11-minimal
 |Depends: media-types
  Depends: mime-support
  Suggests: python3.11-doc
libpq5
  Depends: libssl3
python3.11-minimal
  PreDepends: libc6
media-types
mime-support
  Depends: mailcap
  Depends: media-types
libssl3
  Depends: libc6
libc6
mailcap
  Depends: perl
perl
<python3:any>
"""

# openssh-server: `debconf | <debconf-2.0>` (an alternative that is a virtual package with two
# providers), lsb-base (a real package that sysvinit-utils also provides), `usrmerge |
# usr-is-merged`, base-files' `<awk>` (virtual only, three providers), libsystemd0 (real, and
# provided by libelogind0).
SSHD = """\
openssh-server
  PreDepends: init-system-helpers
  Depends: lsb-base
    sysvinit-utils
 |Depends: debconf
  Depends: <debconf-2.0>
    cdebconf
    debconf
  Depends: libsystemd0
    libelogind0
  Depends: base-files
init-system-helpers
 |Depends: usrmerge
  Depends: usr-is-merged
    usrmerge
lsb-base
  Depends: sysvinit-utils
sysvinit-utils
debconf
cdebconf
  Depends: libnewt0.52
libsystemd0
libelogind0
base-files
  PreDepends: <awk>
    gawk
    original-awk
    mawk
usrmerge
  Depends: <perl:any>
    perl
usr-is-merged
libnewt0.52
gawk
  PreDepends: libmpfr6
original-awk
mawk
libmpfr6
perl
<perl:any>
<debconf-2.0>
<awk>
"""


def names(text, roots, exclude=()):
    return closure(parse_depends(text), roots, exclude)


def test_parser_reads_groups_alternatives_and_providers():
    graph = parse_depends(SSHD)
    assert "<debconf-2.0>" not in graph and "debconf-2.0" not in graph  # virtual: no entry
    groups = graph["openssh-server"]
    assert [[a.name for a in g] for g in groups] == [
        ["init-system-helpers"], ["lsb-base"], ["debconf", "debconf-2.0"], ["libsystemd0"],
        ["base-files"]]
    debconf_alt, virtual_alt = groups[2]
    assert not debconf_alt.virtual and virtual_alt.virtual
    assert virtual_alt.providers == ["cdebconf", "debconf"]
    assert groups[1][0].providers == ["sysvinit-utils"]  # a real package with a provider
    assert graph["base-files"][0][0].virtual and graph["base-files"][0][0].providers == [
        "gawk", "original-awk", "mawk"]


def test_parser_keeps_predepends_drops_recommends_and_suggests():
    graph = parse_depends(PYTHON)
    assert [[a.name for a in g] for g in graph["python3"]] == [["python3-minimal"], ["python3.11"]]
    assert all(a.name != "libpq-dev" for g in graph["python3-psycopg2"] for a in g)
    assert all(a.name != "python3.11-doc" for g in graph["python3.11"] for a in g)
    assert graph["python3-psycopg2"][1][0].name == "python3"  # `python3:any` -> python3


def test_closure_follows_predepends_and_takes_first_alternative_only():
    got = names(PYTHON, ["python3", "python3-psycopg2"])
    assert got[:2] == ["python3", "python3-psycopg2"]
    assert set(got) == {"python3", "python3-psycopg2", "python3-minimal", "python3.11", "libpq5",
                        "python3.11-minimal", "libssl3", "libc6", "media-types"}
    # the second alternative, and what only it needs, are not taken
    assert "mime-support" not in got and "mailcap" not in got and "perl" not in got
    assert len(got) == len(set(got))


def test_virtual_package_takes_a_real_provider():
    got = names(SSHD, ["openssh-server"])
    assert "debconf" in got and "cdebconf" not in got  # first alternative (real) wins
    assert "lsb-base" in got and "libsystemd0" in got and "libelogind0" not in got
    assert "gawk" in got and "libmpfr6" in got  # <awk>: nothing chosen provides it: first provider
    assert "usrmerge" in got and "perl" in got  # `usrmerge | usr-is-merged`: the first one
    assert "usr-is-merged" not in got
    assert not any(n.startswith("<") for n in got)


def test_virtual_prefers_a_provider_already_in_the_closure():
    # mawk is a root: base-files' <awk> is satisfied by it, gawk (first listed) is not added
    got = names(SSHD, ["mawk", "openssh-server"])
    assert "mawk" in got and "gawk" not in got and "libmpfr6" not in got
    # ... also when what brings mawk in is reached later than base-files' <awk> (choices wait
    # for the plain dependencies)
    late = SSHD.replace("openssh-server\n", "r\n  Depends: openssh-server\n  Depends: x\nx\n"
                        "  Depends: y\ny\n  Depends: mawk\nopenssh-server\n", 1)
    got = names(late, ["r"])
    assert "mawk" in got and "gawk" not in got
    # an alternative group already satisfied by a later one in the closure adds nothing
    got = names(SSHD, ["usr-is-merged", "openssh-server"])
    assert "usrmerge" not in got and "perl" not in got


def test_exclusions_skip_alternatives_virtuals_and_their_dependencies():
    got = names(SSHD, ["openssh-server"], exclude=["usrmerge", "awk"])
    assert "usrmerge" not in got and "perl" not in got
    assert "usr-is-merged" in got  # the group falls to its next alternative
    assert not {"gawk", "mawk", "original-awk", "libmpfr6"} & set(got)  # <awk> excluded as a name
    got = names(SSHD, ["openssh-server"], exclude=["debconf"])
    assert "debconf" not in got and "cdebconf" in got and "libnewt0.52" in got  # next: a provider
    got = names(PYTHON, ["python3", "python3-psycopg2"], exclude=["media-types"])
    assert "mime-support" in got and "mailcap" in got  # excluded first alternative: the second


def test_unsatisfiable_and_unknown_are_errors():
    graph = parse_depends("a\n  Depends: <nothing-provides-this>\n<nothing-provides-this>\n")
    with pytest.raises(SandboxError, match="a needs <nothing-provides-this>"):
        closure(graph, ["a"])
    with pytest.raises(SandboxError, match="no installable package 'b'"):
        closure(parse_depends("a\n  Depends: b\n"), ["a"])
    with pytest.raises(SandboxError, match="both a root and excluded"):
        closure(graph, ["a"], exclude=["a"])
    with pytest.raises(SandboxError, match="not understood"):
        parse_depends("a\n  Depends b\n")
    with pytest.raises(SandboxError, match="alternative group"):
        parse_depends("a\n |Depends: b\n")


def test_read_package_list(tmp_path):
    f = tmp_path / "packages.txt"
    f.write_text("# comment\npython3   # the interpreter\n\n-dpkg  # why\nnginx\n")
    plist = distro.read_package_list(f)
    assert plist == PackageList(("python3", "nginx"), ("dpkg",))
    assert plist.key() == "python3\nnginx\n-dpkg"
    f.write_text("# nothing\n-dpkg\n")
    with pytest.raises(SandboxError, match="names no package"):
        distro.read_package_list(f)


def test_the_shipped_packages_files_name_roots_only():
    api = images.packages()
    assert api.roots == ("python3", "python3-psycopg2")
    front = front_image.packages()
    assert {"python3", "openssh-server", "nginx", "bash", "coreutils", "dash"} <= set(front.roots)
    for plist in (api, front):  # no library, no versioned interpreter
        assert not [r for r in plist.roots if r.startswith("lib") or "3." in r], plist.roots


def test_python_version_from_the_closure():
    assert distro.python_version(["python3", "python3.12-minimal", "libc6"]) == (3, 12)
    with pytest.raises(SandboxError):
        distro.python_version(["python3", "libc6"])
    with pytest.raises(SandboxError):
        distro.python_version(["python3.11-minimal", "python3.12-minimal"])


def test_front_refuses_another_python_in_one_line_naming_both(monkeypatch):
    monkeypatch.setattr(distro, "os_identity", lambda: "ubuntu 24.04 noble")
    mine = sys.version_info[:2]
    other = (mine[0], mine[1] + 1)
    front_image.check_python(["python3", f"python3.{mine[1]}-minimal"])  # same: fine
    with pytest.raises(SandboxError) as err:
        front_image.check_python(["python3", f"python3.{other[1]}-minimal"])
    text = str(err.value)
    assert "\n" not in text
    assert f"{other[0]}.{other[1]}" in text and f"Python {mine[0]}.{mine[1]}" in text


def test_os_identity(tmp_path, monkeypatch):
    f = tmp_path / "os-release"
    f.write_text('PRETTY_NAME="Ubuntu 24.04.1 LTS"\nID=ubuntu\nVERSION_ID="24.04"\n'
                 'VERSION_CODENAME=noble\nID_LIKE=debian\n')
    monkeypatch.setattr(distro, "OS_RELEASE", [tmp_path / "missing", f])
    assert distro.os_identity() == "ubuntu 24.04 noble"


def test_build_hashes_follow_the_distribution(monkeypatch):
    """Another distribution or release never reuses an image: its hash differs."""
    api, front = images.build_hash(), front_image.build_hash()
    monkeypatch.setattr(distro, "os_identity", lambda: "ubuntu 24.04 noble")
    assert images.build_hash() != api and front_image.build_hash() != front
    ubuntu = images.build_hash()
    monkeypatch.setattr(distro, "os_identity", lambda: "ubuntu 24.10 oracular")
    assert images.build_hash() != ubuntu


def test_build_hashes_follow_roots_and_exclusions(monkeypatch):
    api, front = images.build_hash(), front_image.build_hash()
    plist = images.packages()
    monkeypatch.setattr(images, "packages", lambda: PackageList(plist.roots, ()))
    assert images.build_hash() != api
    monkeypatch.setattr(images, "packages", lambda: PackageList((*plist.roots, "tzdata"), plist.exclude))
    assert images.build_hash() != api
    fplist = front_image.packages()
    monkeypatch.setattr(front_image, "packages", lambda: PackageList(fplist.roots, fplist.exclude[1:]))
    assert front_image.build_hash() != front


def test_api_image_runs_the_distributions_python3():
    assert images.CMD[0] == "/usr/bin/python3"
