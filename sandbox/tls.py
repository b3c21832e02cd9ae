"""The front's HTTPS: a private CA made once per state folder, and the front's certificate from it.

A real staging sits behind HTTPS with its organisation's CA; the sandbox does the same, so the
default drills exercise `[http] ca_file` every night. Files live in `<state>/tls/`:

    ca.pem       the CA certificate: the suite's `[http] ca_file` (0644, it is public)
    ca.key       the CA's private key (0600, root's: only `up` signs with it)
    front.pem    the front's certificate for 127.0.0.1 and localhost (and, hosts layout, the
                 relay's address that base_url names), signed by the CA (0644)
    front.key    its private key (0600, the sandbox owner's: nginx's master reads it as that user)

Made with the `openssl` command line (no new Python dependency; ECDSA P-256, ~20 ms a key). Kept
across `up`s; made again when a file is missing or the certificate no longer verifies against the
CA or covers 127.0.0.1 (a damaged or half-written folder after a killed run). Connections end at
nginx: the upstreams behind it stay plain HTTP, as in most stagings.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import SandboxError
from .layout import Layout
from .owner import current as current_owner

OPENSSL_TIMEOUT_S = 20
CA_DAYS = 3650
FRONT_DAYS = 825
FRONT_NAMES = "IP:127.0.0.1,DNS:localhost"


@dataclass(frozen=True)
class TlsFiles:
    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def cert(self) -> Path:
        return self.folder / "front.pem"

    @property
    def key(self) -> Path:
        return self.folder / "front.key"

    def cert_id(self) -> str:
        """sha256 of the front's certificate ("" before it exists)."""
        try:
            return hashlib.sha256(self.cert.read_bytes()).hexdigest()
        except FileNotFoundError:
            return ""


def files(layout: Layout) -> TlsFiles:
    return TlsFiles(layout.tls_dir)


def _openssl() -> str:
    found = shutil.which("openssl")
    if not found:
        raise SandboxError("openssl not found: install it with 'apt-get install -y openssl' "
                           "(the sandbox's front serves HTTPS with a CA of its own)")
    return found


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=OPENSSL_TIMEOUT_S)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["no output"])[-1]
        raise SandboxError(f"tls: {' '.join(argv[1:3])} failed: {last}")
    return r


def _valid(tls: TlsFiles, ips: tuple[str, ...] = ("127.0.0.1",)) -> bool:
    """Every file there, and the front's certificate verifies against this CA for each of `ips`."""
    if not all(p.is_file() for p in (tls.ca_cert, tls.ca_key, tls.cert, tls.key)):
        return False
    for ip in ips:
        r = subprocess.run([_openssl(), "verify", "-CAfile", str(tls.ca_cert), "-verify_ip", ip,
                            str(tls.cert)], capture_output=True, text=True, timeout=OPENSSL_TIMEOUT_S)
        if r.returncode != 0:
            return False
    return True


def _new_key(path: Path) -> None:
    """An ECDSA P-256 private key written 0600 from the start (never readable by others)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    _run([_openssl(), "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path)])
    path.chmod(0o600)


def _make(tls: TlsFiles, subject: str, ips: tuple[str, ...] = ("127.0.0.1",)) -> None:
    openssl = _openssl()
    tls.folder.mkdir(parents=True, exist_ok=True)
    tls.folder.chmod(0o755)  # the owner's nginx must reach front.key; the CA key itself is 0600
    _new_key(tls.ca_key)
    _run([openssl, "req", "-new", "-x509", "-key", str(tls.ca_key), "-out", str(tls.ca_cert),
          "-days", str(CA_DAYS), "-subj", f"/O=Aura Flow sandbox/CN=Aura sandbox CA {subject}",
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign",
          "-addext", "subjectKeyIdentifier=hash"])
    _new_key(tls.key)
    csr = tls.folder / "front.csr"
    ext = tls.folder / "front.ext"
    _run([openssl, "req", "-new", "-key", str(tls.key), "-out", str(csr), "-subj", "/CN=127.0.0.1"])
    ext.write_text(f"basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                   f"extendedKeyUsage=serverAuth\nsubjectAltName={_names(ips)}\n"
                   "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n")
    try:
        _run([openssl, "x509", "-req", "-in", str(csr), "-CA", str(tls.ca_cert), "-CAkey", str(tls.ca_key),
              "-set_serial", "0x" + os.urandom(8).hex(), "-days", str(FRONT_DAYS), "-extfile", str(ext),
              "-out", str(tls.cert)])
    finally:
        csr.unlink(missing_ok=True)
        ext.unlink(missing_ok=True)
    tls.ca_cert.chmod(0o644)
    tls.cert.chmod(0o644)


def _names(ips: tuple[str, ...]) -> str:
    extra = "".join(f",IP:{ip}" for ip in ips if ip != "127.0.0.1")
    return FRONT_NAMES + extra


def ensure(layout: Layout, log, also_ip: str | None = None) -> TlsFiles:
    """The CA and the front's certificate, made when missing or no longer valid. front.key ends up
    the sandbox owner's (its nginx reads it); ca.key stays the creator's, 0600. `also_ip`: one
    more address the certificate names (the hosts layout's relay, which base_url names)."""
    tls = files(layout)
    ips = ("127.0.0.1", also_ip) if also_ip else ("127.0.0.1",)
    if not _valid(tls, ips):
        log(f"tls: making the sandbox's CA and the front's certificate in {tls.folder}")
        # The CA names its state folder by digest (a subject may not hold its slashes).
        _make(tls, hashlib.sha256(str(layout.state).encode()).hexdigest()[:12], ips)
    current_owner().take(tls.key)
    return tls


def front_files_text(tls: TlsFiles) -> dict[str, str]:
    """The three files the front host of the hosts layout needs (its nginx serves HTTPS too)."""
    return {"ca.pem": tls.ca_cert.read_text(), "front.pem": tls.cert.read_text(), "front.key": tls.key.read_text()}
