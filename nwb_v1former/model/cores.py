"""The core families, by name: each is one file holding its config dataclass and its module.

Every core module takes (config, frame_shape) and offers what the heads, training and analyses use:

- `forward(video (B, 1, T, H, W), behavior (B, 2, T), pupil_center (B, 2, T)) -> (B, E, T, H', W')`,
  causal in time (frame t depends on frames <= t), E = `config.emb_dim`;
- `grid` = (H', W'), and `cell_centers()` -> the pixel (row, column) at the centre of each grid cell;
- `set_gradient_checkpointing(enabled)`.

A new family is a new file and one entry here (plus its presets in config.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from nwb_v1former.errors import ConfigError
from nwb_v1former.model.core import CoreConfig, ViViTCore
from nwb_v1former.model.fcnn import FCNNConfig, FCNNCore
from nwb_v1former.model.ln import LinearCore, LNConfig


@dataclass(frozen=True)
class CoreFamily:
    """A family of cores: its config dataclass, its module, one line for listings, and the core's
    optimiser settings where its authors' differ from ViV1T's (TrainConfig fields: core_lr, ...)."""

    config: type
    module: type[nn.Module]
    description: str
    core_optimiser: dict[str, float] = field(default_factory=dict)


FAMILIES: dict[str, CoreFamily] = {
    "viv1t": CoreFamily(CoreConfig, ViViTCore, "ViV1T spatiotemporal Transformer (Li et al. 2025)"),
    # The V-2025 code trains its fCNN with AdamW at 0.005 and no weight decay; at ViV1T's core rate
    # (0.0126, decay 0.078) its loss barely moves for the first epochs on simulated sessions.
    "fcnn": CoreFamily(
        FCNNConfig,
        FCNNCore,
        "factorised 3-D CNN, the Sensorium 2023 baseline",
        {"core_lr": 0.005, "core_weight_decay": 0.0},
    ),
    "ln": CoreFamily(LNConfig, LinearCore, "linear-nonlinear: one spatiotemporal filter per neuron"),
}


def core_family(name: str) -> CoreFamily:
    """The family called `name`; ConfigError listing the families otherwise."""
    if name not in FAMILIES:
        raise ConfigError(f"unknown core family {name!r}; choose one of {', '.join(FAMILIES)}")
    return FAMILIES[name]


def build_core(family: str, config: Any, frame_shape: tuple[int, int]) -> nn.Module:
    """A fresh core of `family` for frames of `frame_shape` (H, W)."""
    return core_family(family).module(config, frame_shape)
