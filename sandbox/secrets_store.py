"""The sandbox's secrets (database password, webhook token, the API's bearer token): generated
once per state folder, kept 0600. A folder from before the API token gets one added; the others
stay as they are."""
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
            if data.get("api_token"):
                return data
            data = {**data, "api_token": _api_token()}
            write_private(layout.secrets_path, dumps({"secrets": data}))
            return data
    except (FileNotFoundError, tomllib.TOMLDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
        pass  # missing, damaged or half-written by a killed run: make new ones (up re-sets the password)
    data = {"db_password": "pw-" + secrets.token_hex(12), "webhook_token": "tok-" + secrets.token_hex(16),
            "api_token": _api_token()}
    write_private(layout.secrets_path, dumps({"secrets": data}))
    return data


def _api_token() -> str:
    return "api-" + secrets.token_hex(20)
