"""Adaptive gradient clipping: the largest allowed norm is a percentile of the recent gradient norms."""

from __future__ import annotations

from collections.abc import Iterable

import torch


class AdaptiveClipper:
    """Clip the total gradient norm to the `percentile`-th percentile of the last `history` norms.

    The first step (no history) is not clipped. Norms are recorded before clipping, so one outlier
    does not lower the threshold for long; a non-finite norm is kept as NaN and left out of the
    percentile. Everything stays on the gradients' device: a step never waits for the GPU.
    `state` / `load_state` carry the history across a resume.
    """

    def __init__(self, percentile: float, history: int) -> None:
        self.percentile = percentile
        self.history = history
        self.norms = torch.empty(0, dtype=torch.float64)  # (<= history,) on the gradients' device

    def __call__(self, parameters: Iterable[torch.nn.Parameter]) -> torch.Tensor:
        """Clip in place; returns the norm before clipping (a 0-d tensor on the gradients' device)."""
        parameters = [p for p in parameters if p.grad is not None]
        norm = torch.nn.utils.get_total_norm([p.grad for p in parameters])
        norms = self.norms.to(norm.device)
        if len(norms):  # torch's clip_grads_with_norm_ reads the limit on the host: scale here instead
            limit = torch.nanquantile(norms, self.percentile / 100).nan_to_num(torch.inf).to(norm.dtype)
            scale = (limit / (norm + 1e-6)).clamp(max=1.0)
            for parameter in parameters:
                parameter.grad.mul_(scale)
        finite = torch.where(torch.isfinite(norm), norm.double(), torch.nan)
        self.norms = torch.cat([norms, finite[None]])[-self.history :]
        return norm

    def state(self) -> torch.Tensor:
        return self.norms.cpu()

    def load_state(self, norms: torch.Tensor) -> None:
        self.norms = norms.to(torch.float64)[-self.history :]
