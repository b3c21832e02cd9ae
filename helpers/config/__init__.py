"""The target's config: DESIGN.md's "The target", declared once (models.py), loaded (loader.py).

`python -m helpers.config schema` prints the JSON Schema made from the models
(docs/config.schema.json). Reachability of the target's endpoints is helpers/reachability.py.
"""
from helpers.config.loader import ConfigError, is_complete, load_config, overlay, read_toml, validate, validate_overlay
from helpers.config.models import FrontSection, TargetConfig
from helpers.config.values import DEFAULT_RPO_BODY, ROLLBACK_TYPES, rpo_body, split_ssh

__all__ = ["DEFAULT_RPO_BODY", "ROLLBACK_TYPES", "ConfigError", "FrontSection", "TargetConfig", "is_complete",
           "load_config", "overlay", "read_toml", "rpo_body", "split_ssh", "validate", "validate_overlay"]
