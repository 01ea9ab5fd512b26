"""Plain data for JSON and YAML: numpy values as Python values, paths as text, NaN and infinities as None.

Every JSON file and NWB text field the tool writes goes through `plain`, so any reader can parse it
(standard JSON has no NaN).
"""

from __future__ import annotations

import math
from pathlib import PurePath
from typing import Any

import numpy as np


def plain(value: Any) -> Any:
    """A JSON-ready copy of `value` (dicts, lists, tuples, numpy scalars and arrays, paths, floats)."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (np.generic, np.ndarray)):
        return plain(value.tolist())
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
