"""Per-session heads: Gaussian readout whose positions come from cortical coordinates, and the shifter."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn


def normalised_grid(coordinates: torch.Tensor) -> torch.Tensor:
    """Cortical (x, y) centred per column and divided by the largest absolute value; (N, >=2) -> (N, 2)."""
    xy = coordinates[:, :2].to(torch.float32)
    xy = xy - xy.mean(dim=0, keepdim=True)
    return xy / xy.abs().max().clamp_min(1e-12)


class GaussianReadout(nn.Module):
    """Samples each neuron's features at one point of the core's output grid and weighs them.

    Each neuron's mean position mu = tanh(MLP(x, y)) is predicted from its cortical coordinates, so
    neighbouring neurons read neighbouring positions. In training the point is mu + sigma @ N(0, I).
    core output (B, E, T, H', W'), shift (B, T, 2) -> responses (B, T, N), before the output activation.
    """

    def __init__(
        self, coordinates: torch.Tensor, emb_dim: int, hidden: int, mean_response: torch.Tensor
    ) -> None:
        super().__init__()
        n = coordinates.shape[0]
        self.register_buffer("grid_source", normalised_grid(coordinates))
        self.position = nn.Sequential(nn.Linear(2, hidden), nn.ELU(), nn.Linear(hidden, 2), nn.Tanh())
        self.sigma = nn.Parameter(torch.empty(n, 2, 2).uniform_(-1.0, 1.0))
        self.features = nn.Parameter(torch.full((emb_dim, n), 1.0 / emb_dim))
        self.bias = nn.Parameter(mean_response.to(torch.float32).clone())

    @property
    def mu(self) -> torch.Tensor:
        """(N, 2) readout positions in [-1, 1], (x along width, y along height)."""
        return self.position(self.grid_source)

    def forward(self, core_output: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        batch, emb, frames, height, width = core_output.shape
        n = self.features.shape[1]
        grid = self.mu.expand(batch * frames, n, 2)
        if self.training:
            noise = torch.randn(batch * frames, n, 2, device=grid.device, dtype=grid.dtype)
            grid = grid + torch.einsum("nij,bnj->bni", self.sigma, noise)
        grid = grid.clamp(-1.0, 1.0) + shift.reshape(batch * frames, 1, 2)
        features = core_output.transpose(1, 2).reshape(batch * frames, emb, height, width)
        sampled = F.grid_sample(
            features, grid[:, :, None, :], mode="bilinear", padding_mode="zeros", align_corners=True
        )
        # sum over channels of sampled (BT, E, N) x features (E, N): as one vecdot, not einsum, whose CPU
        # path (N matrix-vector products) costs ~65x more for 1000 neurons (benchmarks/finetune_readout.py)
        responses = torch.linalg.vecdot(sampled[..., 0], self.features, dim=1) + self.bias
        return responses.reshape(batch, frames, n)


class Shifter(nn.Module):
    """Eye position -> a shift of every readout point, per frame: (B, 2, T) -> (B, T, 2) in grid units."""

    def __init__(self, hidden: int, layers: int) -> None:
        super().__init__()
        sizes = [2] + [hidden] * (layers - 1) + [2]
        modules: list[nn.Module] = []
        for size_in, size_out in itertools.pairwise(sizes):
            modules += [nn.Linear(size_in, size_out), nn.Tanh()]
        self.mlp = nn.Sequential(*modules)

    def forward(self, pupil_center: torch.Tensor) -> torch.Tensor:
        return self.mlp(pupil_center.transpose(1, 2))


class ELUPlusOne(nn.Module):
    """Output activation ELU(x) + 1: positive responses, as the Poisson loss needs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.elu(x) + 1.0
