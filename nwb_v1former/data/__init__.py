"""The common dataset: the store on disk, its statistics and normalisation, torch datasets over it.

The torch datasets are imported on first use, so readers that only write stores (nwb/, convert)
do not pay for importing torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from nwb_v1former.data.stats import Normalizer, compute_statistics
from nwb_v1former.data.store import SessionStore, StoreWriter, Trials, open_stores

if TYPE_CHECKING:
    from nwb_v1former.data.dataset import MultiSessionDataset, RoundRobinSampler, WindowDataset

_TORCH_EXPORTS = ("MultiSessionDataset", "RoundRobinSampler", "WindowDataset")

__all__ = [
    "MultiSessionDataset",
    "Normalizer",
    "RoundRobinSampler",
    "SessionStore",
    "StoreWriter",
    "Trials",
    "WindowDataset",
    "compute_statistics",
    "open_stores",
]


def __getattr__(name: str) -> Any:
    """Import the torch datasets when one of them is first asked for."""
    if name in _TORCH_EXPORTS:
        return getattr(import_module("nwb_v1former.data.dataset"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
