"""Where inference takes the core's output for a piece of a session from: a feature cache that holds
exactly that piece (same first tick and length, so the same history), else one pass of the core at the
chosen precision. The heads (shifter, readout, activation) always run in float32 on top of it."""

from __future__ import annotations

from typing import Any, Protocol

import torch

from nwb_v1former.model.model import V1Former
from nwb_v1former.precision import core_autocast


class CachedCore(Protocol):
    """A store of the core's output by piece (train.feature_cache.SessionCache is one)."""

    def lookup(self, start: int, length: int, device: torch.device) -> torch.Tensor | None:
        """(1, E, T, H', W') float32 on `device` for ticks [start, start + length), None when not held."""


class CoreSource:
    """The core's output for each piece, counting how many ticks came from the cache and from the core."""

    def __init__(self, precision: str = "float32", cache: CachedCore | None = None) -> None:
        self.precision = precision  # resolved: "bf16" or "float32" (nwb_v1former.precision)
        self.cache = cache
        self.cached_ticks = 0
        self.computed_ticks = 0

    def __call__(
        self,
        model: V1Former,
        video: torch.Tensor,
        behavior: torch.Tensor,
        pupil_center: torch.Tensor,
        first_tick: int,
    ) -> torch.Tensor:
        """Core output (1, E, T, H', W') float32 for inputs video (1, 1, T, H, W), behavior and
        pupil_center (1, 2, T) that start at store tick `first_tick`."""
        length = pupil_center.shape[-1]
        if self.cache is not None:
            held = self.cache.lookup(first_tick, length, pupil_center.device)
            if held is not None:
                self.cached_ticks += length
                return held
        self.computed_ticks += length
        with core_autocast(pupil_center.device, self.precision):
            return model.core(video, behavior, pupil_center).float()

    def to_dict(self) -> dict[str, Any]:
        """What provenance records: the precision and where the core's output came from."""
        return {
            "precision": self.precision,
            "core_ticks_from_feature_cache": self.cached_ticks,
            "core_ticks_computed": self.computed_ticks,
        }
