"""Secrets out of every string that reaches a log, a report or an error message.

Reports are published (CI artifacts, chat links); the target's config holds a database password and
the alert script's webhook URL holds a token. Rules here are deliberately greedy: a masked harmless
string costs a reader a little, a leaked password costs a rotation.

What is masked (with `***`):
- userinfo in any `scheme://user:pw@host` URL (libpq URIs included): the password, or the whole
  userinfo when it has no `:` (a bare token used as a user name);
- secret-looking query parameters (`password=`, `token=`, `key=`, `sig=`, ...), libpq keyword
  strings (`password=...`), `PGPASSWORD=...` and `--password X` style arguments;
- URL path segments that look like tokens: the segment after `hooks`/`webhook`/`token`/..., and
  any long segment mixing letters and digits (webhook URLs carry their secret in the path);
- every literal registered with `register()` (e.g. the database password read from the config),
  also in its percent-encoded form.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import quote

__all__ = ["DEFAULT", "MASK", "Redactor", "one_line", "redact", "redact_argv", "register_secret"]

MASK = "***"
MIN_SECRET_LEN = 4  # shorter literals would mask ordinary words; URI rules still cover them

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>`]+")
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/?#\s]*)@")
_SECRET_PARAM = re.compile(
    r"(?P<k>[?&;](?:password|passwd|pwd|pass|token|access_token|auth|api_key|apikey|key|secret"
    r"|sig|signature|client_secret)=)[^&#\s]*", re.IGNORECASE)
_KEYWORD = re.compile(
    r"(?P<k>\b(?:PGPASSWORD|password|passwd)\s*=\s*)"
    r"(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s,;&]+)",
    re.IGNORECASE)
_FLAG = re.compile(
    r"(?P<k>--(?:password|passwd|token|secret|api-key|webhook-secret)(?:=|\s+))"
    r"(?:'[^']*'|\"[^\"]*\"|\S+)",
    re.IGNORECASE)
_SECRET_AFTER = {"hook", "hooks", "webhook", "webhooks", "token", "tokens", "secret", "secrets",
                 "key", "keys", "bot"}
_TOKENISH = re.compile(r"[A-Za-z0-9_\-]+")


def _looks_secret(segment: str, previous: str) -> bool:
    if not segment or not _TOKENISH.fullmatch(segment):
        return False
    if previous.lower() in _SECRET_AFTER and len(segment) >= 6:
        return True
    if len(segment) >= 24:
        return True
    return (len(segment) >= 16 and any(c.isdigit() for c in segment)
            and any(c.isalpha() for c in segment))


def _redact_url(url: str) -> str:
    m = _USERINFO.match(url)
    if m:
        userinfo = m.group("userinfo")
        masked = f"{userinfo.split(':', 1)[0]}:{MASK}" if ":" in userinfo else MASK
        url = f"{m.group('scheme')}{masked}@{url[m.end():]}"
    scheme_end = url.index("://") + 3
    path_start = url.find("/", scheme_end)
    if path_start < 0:
        return url
    end = len(url)
    for stop in "?#":
        i = url.find(stop, path_start)
        if i >= 0:
            end = min(end, i)
    segments = url[path_start:end].split("/")
    for i, seg in enumerate(segments):
        if _looks_secret(seg, segments[i - 1] if i else ""):
            segments[i] = MASK
    return url[:path_start] + "/".join(segments) + url[end:]


class Redactor:
    """A set of literal secrets plus the pattern rules above. Thread-safe."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._literals: set[str] = set()
        for s in secrets:
            self.register(s)

    def register(self, secret: str | None) -> None:
        if not secret or len(secret) < MIN_SECRET_LEN:
            return
        with self._lock:
            self._literals.add(secret)
            encoded = quote(secret, safe="")
            if encoded != secret:
                self._literals.add(encoded)

    def redact(self, text: object) -> str:
        s = text if isinstance(text, str) else str(text)
        with self._lock:
            literals = sorted(self._literals, key=len, reverse=True)
        for lit in literals:
            s = s.replace(lit, MASK)
        s = _URL.sub(lambda m: _redact_url(m.group(0)), s)
        s = _SECRET_PARAM.sub(lambda m: m.group("k") + MASK, s)
        s = _KEYWORD.sub(lambda m: m.group("k") + MASK, s)
        s = _FLAG.sub(lambda m: m.group("k") + MASK, s)
        return s


DEFAULT = Redactor()


def register_secret(secret: str | None) -> None:
    """Register a literal secret with the process-wide redactor used by every helper."""
    DEFAULT.register(secret)


def redact(text: object, redactor: Redactor | None = None) -> str:
    return (redactor or DEFAULT).redact(text)


def redact_argv(argv: Iterable[str], redactor: Redactor | None = None) -> tuple[str, ...]:
    r = redactor or DEFAULT
    return tuple(r.redact(a) for a in argv)


def one_line(text: object, redactor: Redactor | None = None, limit: int = 2000) -> str:
    """Redacted, whitespace collapsed to one line, cut at `limit` characters: for problem lines."""
    s = " ".join(redact(text, redactor).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"
