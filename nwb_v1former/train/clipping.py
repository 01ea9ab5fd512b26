"""Adaptive gradient clipping: the largest allowed norm is a percentile of the recent gradient norms."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch


class AdaptiveClipper:
    """Clip the total gradient norm to the `percentile`-th percentile of the last `history` norms.

    The first step (no history) is not clipped. Norms are recorded before clipping, so one outlier
    does not lower the threshold for long. `state` / `load_state` carry the history across a resume.
    """

    def __init__(self, percentile: float, history: int) -> None:
        self.percentile = percentile
        self.history = history
        self.norms: list[float] = []

    def __call__(self, parameters: Iterable[torch.nn.Parameter]) -> float:
        """Clip in place; returns the norm before clipping."""
        parameters = [p for p in parameters if p.grad is not None]
        limit = float(np.percentile(self.norms, self.percentile)) if self.norms else float("inf")
        norm = float(torch.nn.utils.clip_grad_norm_(parameters, limit))
        if np.isfinite(norm):
            self.norms = [*self.norms, norm][-self.history :]
        return norm

    def state(self) -> torch.Tensor:
        return torch.tensor(self.norms, dtype=torch.float64)

    def load_state(self, norms: torch.Tensor) -> None:
        self.norms = norms.tolist()[-self.history :]
