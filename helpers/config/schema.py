"""The JSON Schema of a config file as written (before `${…}` and `~` are filled in), from the models.

It accepts a complete config (`[target]` and every required section) or an overlay (`extends =
"sandbox"` and any sections, every key optional). No string carries a pattern: a `${…}` may fill
it. A key with a fixed set of values also accepts a string with a `$`, for the same reason.
Editors use it through the `#:schema ./docs/config.schema.json` comment; docs/config.schema.json is
this module's output (`python -m helpers.config schema`).
"""
from __future__ import annotations

import json
from typing import Any

from helpers.config.loader import OVERLAY_BASE
from helpers.config.models import TargetConfig

SCHEMA_ID = "https://aura-flow.example/rollback-drills/config.schema.json"
_FILLED = {"type": "string", "pattern": r"\$\{"}  # a choice written as ${NAME} or ${NAME:-default}


def _as_written(node: Any) -> Any:
    """The models' schema for a TOML file: every string `enum` also accepts a `${…}` reference, and
    TOML's missing null goes (an optional key is left out, never null)."""
    if isinstance(node, list):
        return [_as_written(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _as_written(v) for k, v in node.items() if not (k == "default" and (v is None or "$ref" in node))}
    if "enum" in out and out.get("type") == "string":
        out["anyOf"] = [{"type": "string", "enum": out.pop("enum")}, _FILLED]
        out.pop("type")
    options = [o for o in out.pop("anyOf", []) if o != {"type": "null"}]
    if len(options) == 1:
        out.update(options[0])
    elif options:
        out["anyOf"] = options
    return out


def json_schema() -> dict[str, Any]:
    complete = _as_written(TargetConfig.model_json_schema())
    defs = complete.pop("$defs")
    sections = complete["properties"]
    overlay_props: dict[str, Any] = {"extends": {"const": OVERLAY_BASE, "description": (
        "This file overlays the sandbox's config key by key (a file without [target] must say so).")}}
    for name, prop in sections.items():
        if name == "target":
            continue
        ref = prop.get("$ref", "")
        if ref:
            model = ref.rsplit("/", 1)[1]
            defs[f"{model}Overlay"] = {k: v for k, v in defs[model].items() if k != "required"}
            overlay_props[name] = {"$ref": f"#/$defs/{model}Overlay"}
        else:
            overlay_props[name] = {k: v for k, v in prop.items() if k != "default"}
    defs["CompleteConfig"] = {**complete, "title": "Complete config",
                              "description": "A target of its own: [target] and every required section."}
    defs["OverlayConfig"] = {"type": "object", "title": "Overlay", "properties": overlay_props,
                             "required": ["extends"], "additionalProperties": False,
                             "description": f'extends = "{OVERLAY_BASE}" and any sections; every key optional.'}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "Aura Flow rollback drill target config",
            "description": "DESIGN.md's \"The target\". Strings may take ${NAME} / ${NAME:-default}; $$ is a $.",
            "anyOf": [{"$ref": "#/$defs/CompleteConfig"}, {"$ref": "#/$defs/OverlayConfig"}], "$defs": defs}


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
