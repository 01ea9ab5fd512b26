"""The factorised 3-D CNN core ("fCNN"): the Sensorium 2023 baseline the ViV1T paper compares against.

Layers of a spatial then a temporal convolution, each followed by batch norm and ELU; behaviour and
pupil centre enter as 4 extra input channels, as in the Transformer. The V-2025 code's defaults
(../shared/docs/VIV1T.md): 4 layers of 16 channels, input kernels 11 x 11 px and 11 frames, hidden
kernels 5 and 5, no dropout; trained with AdamW at 0.005 and no weight decay (model/cores.py). Two
departures, both so that the shared heads, windows and evaluation apply: where the reference convolves
time unpadded (losing the first 22 frames), every temporal convolution here is padded at the front
(causal), so the output has as many frames as the input; and batch norm's running statistics use
momentum 0.1, not 0.7: a training step here sees one window per session, and at 0.7 the statistics
used at evaluation would be those of the last window or two.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nwb_v1former.errors import ConfigError
from nwb_v1former.model.factorised import FactorisedConv3d, FullFrameConfig, FullFrameCore, check_kernels
from nwb_v1former.model.inputs import IN_CHANNELS, stack_inputs


@dataclass(frozen=True)
class FCNNConfig(FullFrameConfig):
    """`layers` factorised convolutions of `hidden_channels`; the first with the input kernels."""

    hidden_channels: int = 16
    layers: int = 4
    input_kernel: int = 11
    input_temporal_kernel: int = 11
    hidden_kernel: int = 5
    hidden_temporal_kernel: int = 5
    batch_norm_momentum: float = 0.1

    def __post_init__(self) -> None:
        if self.hidden_channels < 1 or self.layers < 1:
            raise ConfigError("fcnn core: hidden_channels and layers must be at least 1")
        if not 0 < self.batch_norm_momentum <= 1:
            raise ConfigError("fcnn core: batch_norm_momentum must be in (0, 1]")
        check_kernels(
            "fcnn",
            input_kernel=self.input_kernel,
            input_temporal_kernel=self.input_temporal_kernel,
            hidden_kernel=self.hidden_kernel,
            hidden_temporal_kernel=self.hidden_temporal_kernel,
        )

    @property
    def emb_dim(self) -> int:
        """Channels of the core's output: what each neuron's readout weighs."""
        return self.hidden_channels


class FCNNCore(FullFrameCore):
    """video (B, 1, T, H, W), behavior (B, 2, T), pupil_center (B, 2, T) -> (B, hidden_channels, T, H, W)."""

    def __init__(self, config: FCNNConfig, frame_shape: tuple[int, int]) -> None:
        super().__init__(frame_shape)
        self.config = config
        layers = []
        for index in range(config.layers):
            first = index == 0
            layers.append(
                nn.Sequential(
                    FactorisedConv3d(
                        IN_CHANNELS if first else config.hidden_channels,
                        config.hidden_channels,
                        config.input_kernel if first else config.hidden_kernel,
                        config.input_temporal_kernel if first else config.hidden_temporal_kernel,
                        bias=False,  # the batch norm's shift is the bias
                    ),
                    nn.BatchNorm3d(config.hidden_channels, momentum=config.batch_norm_momentum),
                    nn.ELU(),
                )
            )
        self.layers = nn.Sequential(*layers)

    def forward(
        self, video: torch.Tensor, behavior: torch.Tensor, pupil_center: torch.Tensor
    ) -> torch.Tensor:
        return self.layers(stack_inputs(video, behavior, pupil_center))
