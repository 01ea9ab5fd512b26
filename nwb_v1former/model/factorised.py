"""Shared by the convolutional families (fcnn, ln): a causal factorised 3-D convolution, a full-frame grid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nwb_v1former.errors import ConfigError
from nwb_v1former.model.core import CoreConfig


class FactorisedConv3d(nn.Module):
    """A spatial (1, k, k) then a temporal (k_t, 1, 1) convolution: (B, C_in, T, H, W) -> (B, C_out, T, H, W).

    Space is zero-padded to keep the frame size (k odd). Time is padded with k_t - 1 zero frames at the
    front only: the output at frame t sees frames t - k_t + 1 .. t (causal), and there are T of them,
    as the heads and the evaluation expect of every core.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, temporal_kernel: int, *, bias: bool
    ) -> None:
        super().__init__()
        self.temporal_kernel = temporal_kernel
        self.spatial = nn.Conv3d(
            in_channels, out_channels, (1, kernel, kernel), padding=(0, kernel // 2, kernel // 2), bias=False
        )
        self.temporal = nn.Conv3d(out_channels, out_channels, (temporal_kernel, 1, 1), bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.spatial(x)
        return self.temporal(F.pad(x, (0, 0, 0, 0, self.temporal_kernel - 1, 0)))


def check_kernels(family: str, **kernels: int) -> None:
    """ConfigError unless every kernel size is odd and positive (even ones would shift the frame)."""
    for name, size in kernels.items():
        if size < 1 or size % 2 == 0:
            raise ConfigError(f"{family} core: {name} must be an odd number of pixels or frames, got {size}")


@dataclass(frozen=True)
class FullFrameConfig:
    """What the configs of full-frame cores share: the length of one pass."""

    max_frames: int = CoreConfig.max_frames
    """Ticks per pass (the window rule's length, as the Transformer's position table sets it): the
    convolutions have no limit of their own, and the pieces of a longer span start with
    `ModelConfig.context_ticks` of history (64 by default: more than the baselines' default temporal
    reach of 20-22 frames, so a piece predicts as the whole span would)."""


class FullFrameCore(nn.Module):
    """Base of cores whose output grid is the frame itself: cell (i, j) is pixel (i, j)."""

    def __init__(self, frame_shape: tuple[int, int]) -> None:
        super().__init__()
        self.grid = tuple(frame_shape)

    def cell_centers(self) -> tuple[np.ndarray, np.ndarray]:
        """The pixel (row, column) at the centre of each output cell: (H,), (W,) float64."""
        return np.arange(self.grid[0], dtype=np.float64), np.arange(self.grid[1], dtype=np.float64)

    def set_gradient_checkpointing(self, enabled: bool) -> None:
        """Refused when enabled: these cores keep few activations (and recomputing batch norm in backward
        would update its running statistics twice). Gradient checkpointing is for the Transformer core."""
        if enabled:
            raise ConfigError(
                f"gradient checkpointing is for the Transformer core (viv1t); the {type(self).__name__} "
                "keeps few activations: train it without checkpointing"
            )
