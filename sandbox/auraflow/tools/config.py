"""The target's config file (DESIGN.md "The target"), read with tomllib, checked key by key.

Only the keys a command uses are required, and each is checked when first used, so one
missing or mistyped key is one line naming it (exit 2) before anything is touched.
"""
from __future__ import annotations

import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import web
from .errors import UsageError
from .redaction import register, register_dsn


class Config:
    def __init__(self, path: Path, data: dict[str, Any]):
        self.path = path
        self.data = data

    @classmethod
    def load(cls, path: str | Path | None) -> Config:
        if not path:
            raise UsageError("--config PATH is required (the target's TOML config)")
        p = Path(path).expanduser()
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            raise UsageError(f"config file not found: {p}") from None
        except OSError as exc:
            raise UsageError(f"config file {p} cannot be read: {exc.strerror}") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"config file {p} is not valid TOML: {exc}") from None
        db = data.get("database")
        if isinstance(db, dict):  # before anything can print it (cli.say, errors, the audit log)
            register_dsn(db.get("url"))
        cfg = cls(p.resolve(), data)
        cfg._use_http()
        return cfg

    def _use_http(self) -> None:
        """`[http]`: the CA bundle for the front's HTTPS and the headers its API wants (each value
        a secret), for every request to `[target] base_url`."""
        http = self.data.get("http")
        if http is None:
            return
        if not isinstance(http, dict):
            raise UsageError(f"config {self.path}: [http] is not a table")
        headers = http.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise UsageError(f"config {self.path}: [http] headers must be a table of strings")
        for value in headers.values():
            register(value)
            register(value.partition(" ")[2])  # the token of "Bearer <token>" on its own
        ca_file = http.get("ca_file")
        if ca_file is not None and (not isinstance(ca_file, str) or not Path(ca_file).expanduser().is_file()):
            raise UsageError(f"config {self.path}: [http] ca_file {ca_file!r} is not a file")
        base = self.data.get("target", {}).get("base_url", "") if isinstance(self.data.get("target"), dict) else ""
        web.use_target(str(base), headers, str(Path(ca_file).expanduser()) if ca_file else None)

    # -- typed access ---------------------------------------------------------------------------
    def get(self, section: str, key: str, kind: type = str, default: Any = ...) -> Any:
        sec = self.data.get(section)
        if sec is None or key not in sec:
            if default is not ...:
                return default
            raise UsageError(f"config {self.path}: missing [{section}] {key}")
        if not isinstance(sec, dict):
            raise UsageError(f"config {self.path}: [{section}] is not a table")
        value = sec[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise UsageError(f"config {self.path}: [{section}] {key} must be a {kind.__name__}, "
                             f"not {type(value).__name__}")
        if isinstance(value, str) and kind is str and not value.strip():
            raise UsageError(f"config {self.path}: [{section}] {key} is empty")
        return value

    def path_of(self, section: str, key: str) -> Path:
        return Path(self.get(section, key))

    def command(self, section: str, key: str) -> list[str]:
        """A command string split with shlex: absolute first word, no shell (DESIGN.md)."""
        text = self.get(section, key)
        try:
            argv = shlex.split(text)
        except ValueError as exc:
            raise UsageError(f"config {self.path}: [{section}] {key} cannot be split: {exc}") from None
        if not argv or not Path(argv[0]).is_absolute():
            raise UsageError(f"config {self.path}: [{section}] {key} must start with an absolute path")
        return argv

    def address(self, pool: str) -> tuple[str, int]:
        """[upstreams] POOL = "host:port" as (host, port)."""
        text = self.get("upstreams", pool)
        host, sep, port = text.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise UsageError(f"config {self.path}: [upstreams] {pool} must be host:port, not {text!r}")
        return host.strip("[]"), int(port)

    def pools(self) -> dict[str, str]:
        ups = self.data.get("upstreams")
        if not isinstance(ups, dict) or not ups:
            raise UsageError(f"config {self.path}: missing [upstreams]")
        return {k: v for k, v in ups.items() if isinstance(v, str)}

    def releases(self) -> dict[str, str]:
        rel = self.data.get("releases")
        if not isinstance(rel, dict) or not rel:
            raise UsageError(f"config {self.path}: missing [releases] (release tag = schema revision)")
        bad = [k for k, v in rel.items() if not isinstance(v, str)]
        if bad:
            raise UsageError(f"config {self.path}: [releases] {bad[0]} must be a string revision")
        return dict(rel)

    def status_field(self, key: str, default: str) -> str:
        """`[status] version_field` / `pool_field`: where `/status` shows them ("" = not at all)."""
        section = self.data.get("status")
        value = section.get(key, default) if isinstance(section, dict) else default
        if not isinstance(value, str):
            raise UsageError(f"config {self.path}: [status] {key} must be a string")
        return value

    def base_url(self) -> str:
        url = self.get("target", "base_url").rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"config {self.path}: [target] base_url must be an http(s) URL")
        return url

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def audit_log(self) -> Path:
        """`rollback-audit.log` next to the config file."""
        return self.folder / "rollback-audit.log"

    @property
    def lock_file(self) -> Path:
        return self.folder / "rollback.lock"

    @property
    def name(self) -> str:
        return self.get("target", "name", default="target")
