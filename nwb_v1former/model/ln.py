"""The linear-nonlinear (LN) baseline: one spatiotemporal filter per neuron, then ELU + 1.

The core is a single linear factorised convolution of the 5 input channels (video, behaviour, pupil
centre) into `channels` filters, then batch norm, with no nonlinearity. At evaluation batch norm is a
fixed affine map per channel, so the core stays linear; in training it keeps the filters' outputs at
unit scale, without which the shared recipe's core rate (AdamW, 0.0126) makes the loss swing instead of
fall. Each neuron's readout samples the filters at one point of the frame (bilinear, so a linear
operation) and weighs them, so its response before the output activation is

    sum_e w_ne (K_e * x)(t, p_n) + b_n = (K_n * x)(t, p_n) + b_n,   K_n = sum_e w_ne K_e

one spatiotemporal filter K_n (a `temporal_kernel`-frame x `kernel`^2-pixel window, a combination of
the shared basis) centred on the neuron's readout position p_n, followed by the static nonlinearity
ELU + 1: an LN model, fitted with the same heads, loss and training as the other families.

How it relates to the ViV1T paper's LN (the V-2025 "linear" core): that core is a per-pixel affine map
of the 5 input channels (weights and biases of shape (C, H, W)), so each neuron's filter is a point in
space and an instant in time. The filter here has the spatial and temporal extent an LN model of a V1
neuron needs (the simulator's receptive fields are Gabors with 50-120 ms latencies): it is the stronger
baseline, so gains over it are conservative. Behaviour enters linearly (additively), as in the paper's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nwb_v1former.errors import ConfigError
from nwb_v1former.model.factorised import FactorisedConv3d, FullFrameConfig, FullFrameCore, check_kernels
from nwb_v1former.model.inputs import IN_CHANNELS, stack_inputs


@dataclass(frozen=True)
class LNConfig(FullFrameConfig):
    """`channels` linear filters of `kernel` x `kernel` pixels then `temporal_kernel` frames (factorised)."""

    channels: int = 16
    kernel: int = 13
    temporal_kernel: int = 21

    def __post_init__(self) -> None:
        if self.channels < 1:
            raise ConfigError("ln core: channels must be at least 1")
        check_kernels("ln", kernel=self.kernel, temporal_kernel=self.temporal_kernel)

    @property
    def emb_dim(self) -> int:
        """Channels of the core's output: what each neuron's readout weighs."""
        return self.channels


class LinearCore(FullFrameCore):
    """video (B, 1, T, H, W), behavior (B, 2, T), pupil_center (B, 2, T) -> (B, channels, T, H, W).

    Linear (affine) in its inputs in eval mode.
    """

    def __init__(self, config: LNConfig, frame_shape: tuple[int, int]) -> None:
        super().__init__(frame_shape)
        self.config = config
        self.filters = FactorisedConv3d(
            IN_CHANNELS, config.channels, config.kernel, config.temporal_kernel, bias=False
        )
        self.norm = nn.BatchNorm3d(config.channels)

    def forward(
        self, video: torch.Tensor, behavior: torch.Tensor, pupil_center: torch.Tensor
    ) -> torch.Tensor:
        return self.norm(self.filters(stack_inputs(video, behavior, pupil_center)))
