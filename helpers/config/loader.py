"""Reading a config file, overlaying it on the sandbox's, and one line per problem.

A file with `[target]` is complete; a file with `extends = "sandbox"` overlays the sandbox's config
key by key; a file with neither, or both, is refused. String values are filled in from the
environment (interpolate.py) file by file, then the merged result is validated as a whole by the
models. Every problem is one line naming `[section] key`, what is wrong and the file it came from
(`[probe] interval_ms: must be >= 1, got 0 (in /tmp/x.toml)`); `ConfigError.problems` keeps them
all, in pydantic's order (the models' field order).
"""
from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from helpers.config.interpolate import InterpolationError, interpolate
from helpers.config.models import TargetConfig
from helpers.config.values import KeyProblems, Kind, shown
from helpers.redact import MASK, one_line, register_secret

OVERLAY_BASE = "sandbox"  # the one base an overlay can name today
Origins = dict[tuple[str, str], Path]   # (section, key) -> the file it came from
Unfilled = dict[tuple[str, str], str]   # (section, key) -> why its value could not be filled in


class ConfigError(Exception):
    """An invalid target config. `str()` is one line; `problems` lists all that were found."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(self.problems[0] if self.problems else "invalid config")


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    try:
        with p.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    except UnicodeDecodeError as e:  # tomllib decodes UTF-8 itself and lets this through
        raise ConfigError(f"{p}: not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start})") from None


def is_complete(config: str | os.PathLike[str] | Mapping[str, Any]) -> bool:
    """A config with [target] stands alone; one with `extends` overlays a base (the sandbox's)."""
    raw = config if isinstance(config, Mapping) else read_toml(config)
    return "target" in raw


def overlay(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` replaces `base` key by key inside each section; sections only in one are kept."""
    merged: dict[str, Any] = {s: dict(t) if isinstance(t, dict) else t for s, t in base.items()}
    for section, table in over.items():
        if isinstance(table, dict) and isinstance(merged.get(section), dict):
            merged[section].update(table)
        else:
            merged[section] = dict(table) if isinstance(table, dict) else table
    return merged


def _sections_of(raw: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """`raw` without its `extends` line, once the file is known to be complete or an overlay."""
    extends = raw.get("extends")
    if "target" in raw and "extends" in raw:
        raise ConfigError(f"{path}: has both [target] and extends: a file with [target] is a complete config "
                          'and extends nothing; remove one of them')
    if "target" not in raw and extends != OVERLAY_BASE:
        found = f"extends = {shown(extends)} is not a base to overlay; " if "extends" in raw else "has no [target]: "
        raise ConfigError(f"{path}: {found}add [target] (with every required section) for a complete config, "
                          f'or the top-level line extends = "{OVERLAY_BASE}" to overlay the sandbox\'s config')
    return {k: v for k, v in raw.items() if k != "extends"}


def _kind(section: str, key: str) -> Any:
    field = TargetConfig.model_fields.get(section)
    model = field.annotation if field else None
    if not (isinstance(model, type) and issubclass(model, BaseModel) and key in model.model_fields):
        return None
    info = model.model_fields[key]
    # An optional key (`ExistingFile | None`) keeps its type's marks inside the union's arguments.
    marks = [*info.metadata, *(m for arg in get_args(info.annotation) for m in getattr(arg, "__metadata__", ()))]
    return next((m.name for m in marks if isinstance(m, Kind)), None)


def _interpolated(raw: Mapping[str, Any], path: Path) -> tuple[dict[str, Any], list[str], Unfilled]:
    """(`raw` with every string value filled in, the secrets taken from the environment, a line for
    each value that could not be filled, by its key)."""
    unfilled: Unfilled = {}
    secrets: list[str] = []

    def fill(value: Any, section: str, key: str) -> Any:
        if isinstance(value, list):
            return [fill(v, section, key) for v in value]
        if isinstance(value, dict):
            return {k: fill(v, section, key) for k, v in value.items()}
        if not isinstance(value, str):
            return value
        kind = _kind(section, key)
        try:
            filled, taken = interpolate(value, kind)
        except InterpolationError as e:
            unfilled[(section, key)] = one_line(f"{_where((section, key))}: {e} (in {path})")
            return value
        secrets.extend(taken if kind is None else ())
        return filled

    out = {s: ({k: fill(v, s, k) for k, v in t.items()} if isinstance(t, dict) else t) for s, t in raw.items()}
    return out, secrets, unfilled


def _origins_of(raw: Mapping[str, Any], source: Path) -> Origins:
    out: Origins = {}
    for section, table in raw.items():
        out[(section, "")] = source
        out.update({(section, key): source for key in table} if isinstance(table, dict) else {})
    return out


def load_config(path: str | os.PathLike[str] | None = None, *,
                base: str | os.PathLike[str] | None = None,
                register_secrets: bool = True) -> TargetConfig:
    """Load the run's config: `path` alone if it has [target], else `path` overlaid on `base`.

    `path=None` means "the base as it is" (no --drill-config given).
    """
    files: list[tuple[Path, dict[str, Any]]] = []
    over = None if path is None else _sections_of(read_toml(path), Path(path))
    if over is None or "target" not in over:
        if base is None:
            raise ConfigError(f'{path}: extends = "{OVERLAY_BASE}", and no base config was given'
                              if path is not None else "no config given and no base config to use")
        files.append((Path(base), read_toml(base)))
        if "target" not in files[0][1]:
            raise ConfigError(f"{base}: the base config has no [target]")
    if over is not None:
        files.append((Path(str(path)), over))
    raw: dict[str, Any] = {}
    origins: Origins = {}
    secrets: list[str] = []
    unfilled: Unfilled = {}
    for source, data in files:
        filled, taken, not_filled = _interpolated(data, source)
        raw, secrets = overlay(raw, filled), secrets + taken
        origins.update(_origins_of(data, source))
        unfilled.update(not_filled)
    cfg = _checked(raw, origins, tuple(p for p, _ in files), secrets, unfilled)
    assert cfg is not None
    if register_secrets:
        for secret in cfg.secrets():
            register_secret(secret)
    return cfg


def validate(raw: Mapping[str, Any], *, origins: Origins | None = None,
             sources: tuple[Path, ...] = ()) -> TargetConfig:
    """Check every section and key of `raw`; return the typed config or raise ConfigError."""
    cfg = _checked(raw, origins or {}, sources, [], {})
    assert cfg is not None
    return cfg


def validate_overlay(path: str | os.PathLike[str]) -> None:
    """Check an overlay on its own, before any base exists: `extends` given, every section and key
    known, every value that is given of the right kind. Raises ConfigError."""
    raw, secrets, unfilled = _interpolated(_sections_of(read_toml(path), Path(path)), Path(path))
    _checked(raw, {}, (Path(path),), secrets, unfilled, overlay=True)


def _checked(raw: Mapping[str, Any], origins: Origins, sources: tuple[Path, ...], secrets: list[str],
             unfilled: Unfilled, *, overlay: bool = False) -> TargetConfig | None:
    """The config, or ConfigError with every problem: the values that could not be filled in, then
    the models' (an overlay's missing keys are the base's business)."""
    problems = list(unfilled.values())
    try:
        cfg = TargetConfig.model_validate(raw, context={"overlay": overlay})
    except ValidationError as e:
        errors = [err for err in e.errors() if not (overlay and err["type"] == "missing")]
        problems += [line for key, line in _lines(errors, raw, origins, sources, secrets) if key not in unfilled]
        cfg = None
    if problems:
        raise ConfigError(problems)
    if cfg is not None:
        cfg._sources, cfg._env_secrets = sources, tuple(secrets)
    return cfg


# -- pydantic's errors as one line each ---------------------------------------------------------

def _where(loc: tuple[Any, ...]) -> str:
    section, *rest = loc
    if not rest:
        return f"[{section}]"
    key = rest[0]
    return f'[{section}] "{key}"' if section == "releases" else f"[{section}] {key}"


def _a(value: object) -> str:
    kinds = ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"),
             (list, "an array"), (dict, "a table"))
    return next((name for t, name in kinds if isinstance(value, t)), "a date/time")


_WANTED = {"int_type": "an integer", "float_type": "a number", "string_type": "a string", "bool_type": "a boolean",
           "is_instance_of": "a string",  # a path: strict mode wants a Path, which only a string becomes
           "model_type": "a table", "dict_type": "a table", "tuple_type": "an array", "list_type": "an array"}
_BOUND = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def _text(err: Any, raw: Mapping[str, Any]) -> tuple[tuple[Any, ...], str]:
    """(where, what is wrong) for one pydantic error."""
    kind, loc, value, ctx = err["type"], tuple(err["loc"]), err.get("input"), err.get("ctx") or {}
    if len(loc) > 2 and kind in _WANTED:  # an item of an array or inline table: name the key
        value = raw.get(loc[0], {}).get(loc[1])
        return loc[:2], f"expected {_WANTED['list_type' if isinstance(value, list) else 'dict_type']} of " \
                        f"{_WANTED[kind].split(' ', 1)[1]}s, got {_a(value)} ({shown(value)})"
    if kind in _WANTED:
        return loc, f"expected {_WANTED[kind]}, got {_a(value)} ({shown(value)})"
    if kind == "missing":
        return loc, "missing (a required section)" if len(loc) == 1 else "missing (required)"
    if kind == "extra_forbidden":
        model: Any = TargetConfig if len(loc) == 1 else TargetConfig.model_fields[loc[0]].annotation
        # an optional section (`[compose]`) is `Section | None`: its model is the union's own
        model = next((a for a in getattr(model, "__args__", ()) if hasattr(a, "model_fields")), model)
        return loc, (f"unknown {'section' if len(loc) == 1 else 'key'} (expected one of: "
                     + ", ".join(model.model_fields) + ")")
    if kind in _BOUND:
        bound = next(iter(ctx.values()))
        return loc, f"must be {_BOUND[kind]} {bound:g}, got {value}"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", ctx["expected"])
        return loc, f"{shown(value)} is not one of " + " | ".join(f'"{c}"' for c in choices)
    if kind == "finite_number":
        return loc, f"must be a finite number, got {value}"
    if kind == "string_too_short":
        return loc, "must not be empty"
    if kind == "value_error":
        return loc, str(ctx["error"])
    return loc, re.sub(r"^Input should be ", "expected ", err["msg"]) + f", got {shown(value)}"


def _lines(errors: list[Any], raw: Mapping[str, Any], origins: Origins, sources: tuple[Path, ...],
           secrets: list[str]) -> list[tuple[tuple[str, str], str]]:
    """((section, key), line) for each problem pydantic found."""
    found: list[tuple[tuple[Any, ...], str]] = []
    for err in errors:
        error = (err.get("ctx") or {}).get("error")
        if isinstance(error, KeyProblems):
            found += [(tuple(err["loc"]) + where, text) for where, text in error.found]
        else:
            found.append(_text(err, raw))
    lines = []
    for loc, text in found:
        key = (str(loc[0]), str(loc[1]) if len(loc) > 1 else "")
        source = origins.get(key) or origins.get((key[0], ""))
        source = source or (sources[-1] if sources else None)
        line = f"{_where(loc)}: {text}" + (f" (in {source})" if source else "")
        for secret in secrets:
            line = line.replace(secret, MASK)
        lines.append((key, one_line(line)))
    return lines
