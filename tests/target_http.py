"""The project's own tests reach the sandbox's front the way its config says: HTTPS with the
sandbox's CA (`[http] ca_file`) and, where the API wants it, the token of `[http] headers`.
Read from the TOML as data (the tests of the sandbox do not load the suite's config code)."""
from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

import httpx


def context(cfg: dict) -> ssl.SSLContext:
    """An SSL context trusting exactly the config's CA bundle."""
    return ssl.create_default_context(cafile=cfg["http"]["ca_file"])


def headers(cfg: dict) -> dict[str, str]:
    return dict(cfg.get("http", {}).get("headers", {}))


def token(cfg: dict) -> str:
    """The bearer token the sandbox's API wants (the secret the tests look for in outputs)."""
    return headers(cfg)["Authorization"].partition(" ")[2]


def client(cfg: dict, *, authorized: bool = True, **kwargs: Any) -> httpx.Client:
    """An httpx client for the front: its CA, and its token unless `authorized=False`."""
    return httpx.Client(verify=context(cfg), headers=headers(cfg) if authorized else {}, **kwargs)


def urlopen(cfg: dict, url: str, *, timeout: float, authorized: bool = False, data: bytes | None = None,
            method: str | None = None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers(cfg) if authorized else {})
    handlers = [urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context(cfg))]
    return urllib.request.build_opener(*handlers).open(req, timeout=timeout)


def get_json(cfg: dict, url: str, *, timeout: float = 3.0) -> Any:
    with urlopen(cfg, url, timeout=timeout) as r:
        return json.load(r)


def status_of(cfg: dict, url: str, *, timeout: float = 2.0, authorized: bool = False) -> int:
    """HTTP status of GET url (0: no answer)."""
    try:
        with urlopen(cfg, url, timeout=timeout, authorized=authorized) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0
