"""sha256 of a local file's bytes, in the form every fingerprint field uses ("sha256:<hex>").

Its own module because both the local front (helpers/front/local.py) and the fingerprint hash
files: a leaf that neither has to import the other for."""
from __future__ import annotations

import hashlib
import os

__all__ = ["sha256_file"]


def sha256_file(path: str | os.PathLike[str]) -> str | None:
    """sha256 of a file's bytes, None when it does not exist."""
    try:
        with open(path, "rb") as f:
            return "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()
    except FileNotFoundError:
        return None
