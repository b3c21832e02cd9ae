"""Secrets the tools know of (the database password, the webhook URL's token), never printed.

Each tool registers its secrets as soon as it reads them (`Config.load`, the alert config);
everything the tools print or log — progress (`cli.say`), errors (`cli.main_wrapper`), the audit
line (`audit.append`) — goes through `scrub`, whatever library wrote the text (libpq echoes a
malformed URI whole, http.client an invalid URL's path, a migrate command its own DSN form).
"""
from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

MASK = "***"
MIN_LEN = 4  # shorter strings would mask ordinary words; no real secret is that short
_secrets: set[str] = set()
_KV_PASSWORD = re.compile(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")


def register(secret: str | None) -> None:
    if not secret:
        return
    for s in (secret, unquote(secret)):
        if len(s) >= MIN_LEN:
            _secrets.add(s)


def register_dsn(url: str | None) -> None:
    """A libpq URI's password (and a `password=...` of a key/value DSN or a URI query)."""
    if not isinstance(url, str):
        return
    try:
        register(urlsplit(url).password)
    except ValueError:  # unparseable: take what sits between "user:" and "@"
        m = re.match(r"^[a-z0-9+.-]+://[^:/@]*:([^@]*)@", url, re.I)
        if m:
            register(m.group(1))
    for m in _KV_PASSWORD.finditer(url):
        register(m.group(1).strip("'"))


def register_url(url: str | None) -> None:
    """A webhook URL: userinfo, path (its last segment is the token) and query are secret."""
    if not isinstance(url, str):
        return
    register(url.strip())
    try:
        parts = urlsplit(url.strip())
        register(parts.password)
        register(parts.username)
    except ValueError:
        return
    path = parts.path.rstrip("/")
    if path:
        register(path)
        register(path.rsplit("/", 1)[-1])
    register(parts.query)


def scrub(text: str) -> str:
    for s in sorted(_secrets, key=len, reverse=True):  # longest first: a URL before its parts
        if s in text:
            text = text.replace(s, MASK)
    return text
