"""DANDI sources: `dandiset:000123[@version][/glob]` (and the archive's URL forms) -> NWB files to read.

Parsing is in `reference`, talking to the API server in `archive`, the download cache in `cache` and
`download`, and the whole resolution in `fetch` (`fetch_dandi`, imported on first use: the dandi
client is slow to import and most runs read local files).
"""

from importlib import import_module
from typing import Any

from nwb_v1former.sources.dandi.asset import DandiAsset
from nwb_v1former.sources.dandi.reference import DandiRef, is_dandi_source, parse_source

__all__ = ["DandiAsset", "DandiRef", "fetch_dandi", "is_dandi_source", "parse_source"]


def __getattr__(name: str) -> Any:
    if name != "fetch_dandi":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return import_module("nwb_v1former.sources.dandi.fetch").fetch_dandi
