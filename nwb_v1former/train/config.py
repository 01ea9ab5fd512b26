"""Training configuration: one frozen dataclass, resolved once and saved as the run's config.yaml.

Defaults follow the published V-2025 recipe (../docs: AdamW with separate core and head learning
rates and weight decays, adaptive gradient clipping at the 10th percentile of past gradient norms,
reduce-on-plateau x0.3 after 5 epochs, early stop after 10), scaled to what a CPU can do; the warm-up
(the paper's 400 steps) is scaled to the run unless given (nwb_v1former.train.recipe).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from nwb_v1former.config import check_known_keys
from nwb_v1former.errors import ConfigError

STRATEGIES = ("scratch", "readout", "full", "gradual")
PRECISIONS = ("float32", "bf16")
SEED_LIMIT = 2**63
"""Seeds go to torch.manual_seed, which takes 64-bit integers."""


@dataclass(frozen=True)
class TrainConfig:
    """How to train. `strategy`: scratch (pretrain: everything learns at its own rate), readout (core
    frozen), full (core at `finetune_core_factor` x the head rate), gradual (readout for
    `unfreeze_after` epochs, then full)."""

    strategy: str = "scratch"
    window: int | None = None  # ticks per sample; None: the shortest training trial, at most 300
    batch_size: int = 1  # windows per session per step and process (x processes under torchrun)
    core_lr: float = 0.0126
    core_weight_decay: float = 0.0783
    head_lr: float = 0.0073
    head_weight_decay: float = 0.6893
    finetune_core_factor: float = 0.1
    unfreeze_after: int = 5
    warmup_steps: int | None = None  # None: scaled to the run's planned steps (train.recipe)
    clip_percentile: float = 10.0
    clip_history: int = 1000
    max_epochs: int = 400
    patience: int = 10
    plateau_patience: int = 5
    plateau_factor: float = 0.3
    train_fraction: float = 1.0
    seed: int = 0
    precision: str = "bf16"  # autocast dtype on CUDA; CPU always trains in float32
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        checks = (
            (self.strategy in STRATEGIES, f"strategy must be one of {', '.join(STRATEGIES)}"),
            (self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}"),
            (self.window is None or self.window >= 1, "window must be at least 1 tick"),
            (self.batch_size >= 1, "batch_size must be at least 1"),
            (min(self.core_lr, self.head_lr) >= 0, "learning rates must be non-negative"),
            (min(self.core_weight_decay, self.head_weight_decay) >= 0, "weight decays must be non-negative"),
            (0 <= self.finetune_core_factor <= 1, "finetune_core_factor must be in [0, 1]"),
            (self.unfreeze_after >= 0, "unfreeze_after must be non-negative"),
            (self.warmup_steps is None or self.warmup_steps >= 0, "warmup_steps must be non-negative"),
            (0 < self.clip_percentile <= 100, "clip_percentile must be in (0, 100]"),
            (self.clip_history >= 1, "clip_history must be at least 1"),
            (self.max_epochs >= 1, "max_epochs must be at least 1"),
            (self.patience >= 1 and self.plateau_patience >= 1, "patience values must be at least 1"),
            (0 < self.plateau_factor <= 1, "plateau_factor must be in (0, 1]"),
            (0 < self.train_fraction <= 1, "train_fraction must be in (0, 1]"),
            (0 <= self.seed < SEED_LIMIT, "seed must be a non-negative integer below 2**63"),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"training config: {message}")

    def core_rate(self, epoch: int) -> float:
        """The core's learning rate in `epoch` (0 when frozen by the strategy)."""
        if self.strategy == "scratch":
            return self.core_lr
        if self.strategy == "readout" or (self.strategy == "gradual" and epoch < self.unfreeze_after):
            return 0.0
        return self.head_lr * self.finetune_core_factor

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        check_known_keys(cls, values, "training")
        return cls(**values)
