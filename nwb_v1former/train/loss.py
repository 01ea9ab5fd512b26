"""The training loss: Poisson negative log-likelihood of the responses under the predicted rates."""

from __future__ import annotations

import torch

POISSON_EPS = 1e-8


def poisson_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over windows, frames and neurons of pred - y log(pred + eps); (B, T, N) -> scalar.

    Targets below zero (dF/F under baseline) are taken as 0: a Poisson rate has no negative counts,
    and the unclamped term would reward predictions collapsing to 0.
    """
    target = target.clamp_min(0)
    return (prediction - target * torch.log(prediction + POISSON_EPS)).mean()
