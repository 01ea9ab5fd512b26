"""The demo's settings: the simulated mouse and the fine-tuning budget (light to import, for the CLI)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from nwb_v1former.errors import ConfigError
from nwb_v1former.train.config import TrainConfig


@dataclass(frozen=True)
class DemoConfig:
    """Defaults fit the whole demo in about 75 s (120 CPU-s) on two CPU cores.

    The seed (42) is one the shipped core `tiny-sim` never saw (it was pretrained on seed 100). A 3-minute
    session holds 30 clips of 5 s: four clips are repeated three times each (validation and test tiers,
    whose repeats give the noise ceiling) and the other 18 train the readout.
    """

    neurons: int = 200
    minutes: float = 3.0
    clip_seconds: float = 5.0
    repeated_clips: int = 4
    seed: int = 42
    base: str = "tiny-sim"
    max_epochs: int = 20
    patience: int = 5
    warmup_steps: int = 10

    def __post_init__(self) -> None:
        checks = (
            (self.neurons >= 1, "neurons must be at least 1"),
            (self.minutes > 0, "minutes must be positive"),
            (self.repeated_clips >= 1, "repeated_clips must be at least 1"),
            (bool(self.base), "base must name a core, e.g. tiny-sim or a .ckpt"),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"demo config: {message}")
        self.training()  # ConfigError for a bad epoch budget, patience, warm-up or seed

    def simulation(self) -> dict[str, Any]:
        """SimulationConfig fields of the new mouse (the simulator checks them when it runs)."""
        names = ("neurons", "minutes", "clip_seconds", "repeated_clips", "seed")
        return {name: getattr(self, name) for name in names}

    def training(self) -> TrainConfig:
        """Readout-only fine-tuning, bounded in epochs, with a warm-up short enough for a few dozen steps."""
        return TrainConfig(
            strategy="readout",
            max_epochs=self.max_epochs,
            patience=self.patience,
            warmup_steps=self.warmup_steps,
            seed=self.seed,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
