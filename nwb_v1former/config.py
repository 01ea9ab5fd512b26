"""Helpers shared by the frozen configuration dataclasses (simulation, model, ...)."""

from __future__ import annotations

import dataclasses
from typing import Any

from nwb_v1former.errors import ConfigError


def check_known_keys(kind: type, values: dict[str, Any], where: str) -> None:
    """ConfigError listing keys of `values` that are not fields of dataclass `kind`: never ignored."""
    known = {field.name for field in dataclasses.fields(kind)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown {where} config keys {unknown}; known keys: {sorted(known)}")
