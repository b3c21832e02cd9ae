"""Small HTML helpers shared by the report's renderers.

Every string that came from a command, the config or the target goes through `esc` (redacted,
then HTML-escaped) before it lands in markup; labels are ours and are escaped too, because
translations contain quotes and angle brackets are cheap to get wrong.
"""
from __future__ import annotations

import html

from helpers.redact import redact

__all__ = ["attr", "badge", "esc", "short_id", "tail_lines"]


def esc(text: object) -> str:
    """Redacted and HTML-escaped (quotes too, so it is safe in attributes)."""
    return html.escape(redact("" if text is None else text), quote=True)


def attr(text: object) -> str:
    return esc(text)


def short_id(node_id: str) -> str:
    """`drills/test_image.py::test_image_rollback[x]` → `test_image_rollback[x]`."""
    return node_id.rsplit("::", 1)[-1] if node_id else node_id


def tail_lines(text: str, max_lines: int = 200, max_chars: int = 20000) -> tuple[str, int]:
    """The last lines of `text` (for a troubleshooting tail) and how many lines were cut."""
    lines = text.splitlines()
    cut = max(0, len(lines) - max_lines)
    kept = "\n".join(lines[cut:])
    if len(kept) > max_chars:
        kept = kept[-max_chars:]
        cut += 1
    return kept, cut


def badge(css_class: str, text: str, title: str = "") -> str:
    t = f' title="{attr(title)}"' if title else ""
    return f'<span class="ar-badge ar-{attr(css_class)}"{t}>{esc(text)}</span>'
