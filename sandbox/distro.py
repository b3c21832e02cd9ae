"""Which distribution packages an image needs: the roots a packages file names, and the closure
of their dependencies as this machine's apt metadata describes them.

The images are unpacked with `dpkg -x` (images.py), so no package manager checks dependencies
for us and no maintainer script runs. The packages files (app/packages.txt, front/packages.txt)
name only the roots (`python3`, `nginx`, …); the libraries under them differ between
distributions and releases (Debian 12's libssl3 and python3.11-minimal, other names on Ubuntu
24.04), so they are computed here, from one call:

    apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks
                      --no-replaces --no-enhances ROOT...

Its output, per package reached (a line at column 0), lists each dependency as
`  Depends: name` or `  PreDepends: name`. A line starting ` |` is an alternative ORed with the
next line (`a | b` prints ` |Depends: a` then `  Depends: b`). A name in angle brackets,
`<debconf-2.0>`, has no version of its own (a virtual package, or an unknown name); the lines
indented by four spaces under a dependency are the packages that provide it (a real package can
have providers too: `lsb-base`, also provided by sysvinit-utils). `--recurse` follows every
alternative and every provider, so the output is a superset; `closure()` walks it the way an
installer would, choosing:

- Depends and PreDepends only (Recommends and Suggests are never followed);
- a plain dependency: that package;
- an `a | b` group: satisfied if one of its alternatives is in the closure already, else the
  first alternative that exists (a real package, or a virtual one with a provider);
- a virtual package: a provider already in the closure, else the first provider apt lists;
- an excluded name (the packages file's `-name` lines): never taken, never followed, and it
  does not count as existing when an alternative is chosen (`usrmerge | usr-is-merged` with
  `-usrmerge` takes usr-is-merged).

Groups that offer a choice are decided after the plain dependencies are all in, so a choice
prefers what something else needs anyway (an `awk` provider, say), whatever the output order.

The distribution's identity (/etc/os-release ID, VERSION_ID, VERSION_CODENAME) goes into every
image's build hash: a cached image is never reused on another distribution or release.
"""
from __future__ import annotations

import re
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SandboxError

Log = Callable[[str], None]

APT_CACHE_DEPENDS = ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                     "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"]
FOLLOWED = {"Depends", "PreDepends"}
OS_RELEASE = [Path("/etc/os-release"), Path("/usr/lib/os-release")]
_DEP_LINE = re.compile(r"^ ([ |])([A-Za-z-]+): (.+)$")


# -- the packages files -----------------------------------------------------------------------
@dataclass(frozen=True)
class PackageList:
    """A packages file: the roots to install, and the names the closure must not take."""
    roots: tuple[str, ...]
    exclude: tuple[str, ...] = ()

    def key(self) -> str:
        """What the build hash covers: the roots and the exclusions, in file order."""
        return "\n".join([*self.roots, *(f"-{n}" for n in self.exclude)])


def read_package_list(path: Path) -> PackageList:
    """One name a line; `-name` excludes a package from the closure; '#' starts a comment."""
    roots, exclude = [], []
    for line in path.read_text().splitlines():
        word = line.split("#", 1)[0].strip()
        if not word:
            continue
        if word.startswith("-"):
            exclude.append(word[1:].strip())
        else:
            roots.append(word)
    if not roots:
        raise SandboxError(f"{path} names no package")
    return PackageList(tuple(roots), tuple(exclude))


# -- apt-cache depends output -----------------------------------------------------------------
@dataclass
class Alternative:
    name: str
    virtual: bool  # printed as <name>: no version of its own
    providers: list[str] = field(default_factory=list)


# A package's dependencies: a list of groups, each a list of alternatives (one unless `a | b`).
Graph = dict[str, list[list[Alternative]]]


def _bare(name: str) -> str:
    """`python3:any` -> `python3`; a `:native`/`:any` qualifier is not part of the name."""
    base, _, qual = name.partition(":")
    return base if qual in ("any", "native") else name


def parse_depends(text: str) -> Graph:
    """The packages apt-cache printed (virtual ones, `<name>`, left out) and their Depends and
    PreDepends groups. Raises on a line it does not understand: a format change must not
    silently drop a dependency."""
    graph: Graph = {}
    current: list[list[Alternative]] | None = None
    group: list[Alternative] = []  # alternatives of an `a | b` group still open
    last: Alternative | None = None  # the dependency the next provider lines belong to
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if not line.startswith(" "):  # a package's own line
            if group:
                raise SandboxError(f"apt-cache depends line {n}: alternative group not closed")
            name = line.strip()
            virtual = name.startswith("<") and name.endswith(">")
            current = None if virtual else graph.setdefault(_bare(name), [])
            last = None
            continue
        if current is None:  # a virtual package's own entry: nothing of it is followed
            continue
        if line.startswith("    ") and not line[4:].startswith(" "):  # a provider
            if last is None:
                raise SandboxError(f"apt-cache depends line {n}: provider without dependency: {line!r}")
            last.providers.append(_bare(line.strip()))
            continue
        m = _DEP_LINE.match(line)
        if m is None:
            raise SandboxError(f"apt-cache depends line {n}: not understood: {line!r}")
        ored, dep_type, target = m.group(1) == "|", m.group(2), m.group(3).strip()
        virtual = target.startswith("<") and target.endswith(">")
        alt = Alternative(_bare(target.strip("<>")) if virtual else _bare(target), virtual)
        last = alt
        group.append(alt)
        if ored:
            continue
        if dep_type in FOLLOWED:
            current.append(group)
        group = []
    if group:
        raise SandboxError("apt-cache depends output ends inside an alternative group")
    return graph


def closure(graph: Graph, roots: list[str] | tuple[str, ...],
            exclude: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The packages to unpack: roots first, then dependencies in the order they were reached."""
    excluded = set(exclude)
    chosen: list[str] = []
    seen: set[str] = set()
    todo: deque[str] = deque()
    choices: deque[tuple[str, list[Alternative]]] = deque()  # (whose, group) decided later

    def take(name: str) -> None:
        if name not in seen and name not in excluded:
            seen.add(name)
            todo.append(name)

    def usable(alt: Alternative) -> list[str]:
        """The names that would satisfy `alt`, best first; [] if none can."""
        if alt.name in excluded:
            return []
        names = [] if alt.virtual else [alt.name]
        return names + [p for p in alt.providers if p not in excluded and p not in names]

    def walk() -> None:
        while todo:
            name = todo.popleft()
            if name not in graph:
                raise SandboxError(f"apt knows no installable package {name!r} "
                                   "(apt-cache depends printed no entry for it)")
            chosen.append(name)
            for group in graph[name]:
                if len(group) == 1 and not group[0].virtual:
                    if group[0].name not in excluded:
                        take(group[0].name)
                else:
                    choices.append((name, group))

    for root in roots:
        if root in excluded:
            raise SandboxError(f"{root} is both a root and excluded")
        take(root)
    walk()
    while choices:
        whose, group = choices.popleft()
        options = [usable(alt) for alt in group]
        if any(n in seen for names in options for n in names):
            continue  # something else brought one of them in already
        first = next((names for names in options if names), None)
        if first is None:
            if all(alt.name in excluded for alt in group):
                continue  # every alternative excluded on purpose
            wanted = " | ".join(f"<{a.name}>" if a.virtual else a.name for a in group)
            raise SandboxError(f"{whose} needs {wanted}: nothing this distribution offers provides it")
        take(first[0])
        walk()
    return chosen


def python_version(packages: list[str]) -> tuple[int, int]:
    """The Python the closure installs as python3: from its `python3.N-minimal` package."""
    found = {(int(m.group(1)), int(m.group(2))) for p in packages
             if (m := re.fullmatch(r"python(3)\.(\d+)-minimal", p))}
    if len(found) != 1:
        raise SandboxError(f"expected one python3.N-minimal among the resolved packages, found "
                           f"{sorted(found) or 'none'}")
    return found.pop()


# -- this machine -----------------------------------------------------------------------------
def os_identity() -> str:
    """`ID VERSION_ID VERSION_CODENAME` of /etc/os-release, e.g. `debian 12 bookworm`."""
    for path in OS_RELEASE:
        if path.exists():
            fields = {}
            for line in path.read_text().splitlines():
                key, sep, value = line.partition("=")
                if sep:
                    fields[key.strip()] = value.strip().strip("\"'")
            return " ".join(fields.get(k, "") for k in ("ID", "VERSION_ID", "VERSION_CODENAME"))
    raise SandboxError("no /etc/os-release: cannot tell which distribution builds the images")


def apt_depends(roots: list[str] | tuple[str, ...], log: Log) -> str:
    """apt-cache depends' output for the roots; runs apt-get update once if apt has no lists or
    does not know a root yet."""
    cmd = [*APT_CACHE_DEPENDS, *roots]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    known = {ln.strip() for ln in proc.stdout.splitlines() if ln and not ln.startswith(" ")}
    if proc.returncode != 0 or not set(roots) <= known:
        log("images: apt does not know every root package (lists missing or old); running apt-get update")
        update = subprocess.run(["apt-get", "update", "-q"], capture_output=True, text=True, timeout=300)
        if update.returncode != 0:
            raise SandboxError(f"apt-get update failed: {update.stderr.strip()[-300:]}")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        known = {ln.strip() for ln in proc.stdout.splitlines() if ln and not ln.startswith(" ")}
    if proc.returncode != 0:
        raise SandboxError(f"apt-cache depends failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
    unknown = [r for r in roots if r not in known]
    if unknown:
        raise SandboxError(f"this distribution ({os_identity()}) has no package {', '.join(unknown)}")
    return proc.stdout


def resolve(plist: PackageList, log: Log) -> list[str]:
    """The packages to unpack for `plist` on this machine, from apt's metadata."""
    t0 = time.monotonic()
    names = closure(parse_depends(apt_depends(plist.roots, log)), plist.roots, plist.exclude)
    log(f"images: resolved {len(names)} packages from {len(plist.roots)} roots "
        f"({os_identity()}) in {time.monotonic() - t0:.2f} s")
    return names
