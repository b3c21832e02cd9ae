"""The sandbox's two secrets (database password, webhook token): generated once, kept 0600."""
from __future__ import annotations

import secrets
import tomllib

from .config_file import dumps
from .layout import Layout
from .private_file import write_private


def load_or_create(layout: Layout) -> dict[str, str]:
    try:
        data = tomllib.loads(layout.secrets_path.read_text())["secrets"]
        if data.get("db_password") and data.get("webhook_token"):
            return data
    except (FileNotFoundError, tomllib.TOMLDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
        pass  # missing, damaged or half-written by a killed run: make new ones (up re-sets the password)
    data = {"db_password": "pw-" + secrets.token_hex(12), "webhook_token": "tok-" + secrets.token_hex(16)}
    write_private(layout.secrets_path, dumps({"secrets": data}))
    return data
