"""The recipe fitted to the run: a warm-up scaled to the steps the run plans, and what is wrong with it.

The paper warms the learning rates up over 400 steps; its epochs are hundreds of steps long. A lab's
session can have 18 steps an epoch, where 400 steps are 22 epochs: a 20-epoch run then never reaches
its learning rate. Left unset (`warmup_steps=None`), the warm-up is the paper's 400 steps at most, a
tenth of the planned steps (steps an epoch x `max_epochs`) at most, and at most half of the patience
in epochs, so early stopping never judges a learning rate that is still rising.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from nwb_v1former.errors import ConfigError
from nwb_v1former.train.config import TrainConfig
from nwb_v1former.train.sessions import TrainingSession

PAPER_WARMUP_STEPS = 400
"""The published recipe's warm-up (VIV1T.md), the upper bound of a scaled one."""
PLANNED_FRACTION = 0.1
"""A scaled warm-up lasts at most this fraction of the run's planned steps."""


@dataclass(frozen=True)
class Recipe:
    """The run's resolved config and its schedule in steps; `warnings` say where the schedule does not fit."""

    config: TrainConfig
    steps_per_epoch: int
    scaled_warmup: bool
    warnings: tuple[str, ...]

    @property
    def planned_steps(self) -> int:
        return self.steps_per_epoch * self.config.max_epochs

    def describe(self, sessions: int, global_batch_size: int) -> str:
        """One line for the log: strategy, schedule, rates, warm-up and how it was chosen."""
        config = self.config
        core = {"scratch": f"core lr {config.core_lr:g}", "readout": "core frozen"}.get(
            config.strategy, f"core lr {config.head_lr * config.finetune_core_factor:g}"
        )
        if config.strategy == "gradual":
            core += f" after {config.unfreeze_after} frozen epochs"
        how = (
            f"scaled: at most {PAPER_WARMUP_STEPS} (the paper's), a tenth of {self.planned_steps} planned "
            f"steps and half the patience"
            if self.scaled_warmup
            else "as given"
        )
        return (
            f"recipe: {config.strategy}; {self.steps_per_epoch} steps an epoch ({sessions} session(s), "
            f"{global_batch_size} window(s) each per step), up to {config.max_epochs} epochs, early stop "
            f"after {config.patience} without a better validation correlation; head lr {config.head_lr:g}, "
            f"{core}; warm-up {config.warmup_steps} steps ({how}); learning rates x{config.plateau_factor:g} "
            f"after {config.plateau_patience} epochs without improvement; seed {config.seed}"
        )


def steps_per_epoch(sessions: list[TrainingSession], global_batch_size: int) -> int:
    """Optimiser steps in one epoch: one round over the largest session's windows, in global batches
    (as `Trainer._steps` cuts them)."""
    return max(len(session.windows) for session in sessions) // global_batch_size


def scaled_warmup(config: TrainConfig, per_epoch: int) -> int:
    """The warm-up of a run with `per_epoch` steps an epoch when none is given (see the module)."""
    planned = per_epoch * config.max_epochs
    half_patience = per_epoch * max(1, config.patience // 2)
    return max(1, min(PAPER_WARMUP_STEPS, math.ceil(PLANNED_FRACTION * planned), half_patience))


def fit_recipe(config: TrainConfig, sessions: list[TrainingSession], global_batch_size: int) -> Recipe:
    """`config` with its warm-up resolved for these sessions, and the warnings about its schedule."""
    per_epoch = steps_per_epoch(sessions, global_batch_size)
    if per_epoch == 0:
        largest = max(len(session.windows) for session in sessions)
        processes = global_batch_size // config.batch_size
        raise ConfigError(
            f"a step takes {global_batch_size} windows of each session (--batch-size {config.batch_size} x "
            f"{processes} process(es)) but the largest session has {largest} training windows, so an epoch "
            "has no step; lower --batch-size" + (" or start fewer processes" if processes > 1 else "")
        )
    scaled = config.warmup_steps is None
    resolved = (
        dataclasses.replace(config, warmup_steps=scaled_warmup(config, per_epoch)) if scaled else config
    )
    return Recipe(resolved, per_epoch, scaled, _warnings(resolved, per_epoch))


def _warnings(config: TrainConfig, per_epoch: int) -> tuple[str, ...]:
    """Where the schedule cannot work as meant: a warm-up the run never finishes, no room to stop early."""
    warnings = []
    planned = per_epoch * config.max_epochs
    if config.warmup_steps > planned / 2:
        epochs = config.warmup_steps / max(per_epoch, 1)
        warnings.append(
            f"warning: the warm-up ({config.warmup_steps} steps, {epochs:.1f} epochs of {per_epoch} steps) "
            f"takes over half of the run's {planned} planned steps, so the learning rate is below its value "
            "for most of the run; leave --warmup-steps out to scale it to the run, or raise --max-epochs"
        )
    if config.max_epochs <= config.patience:
        warnings.append(
            f"warning: --max-epochs {config.max_epochs} is not above the patience ({config.patience}), so "
            "the run cannot stop early: it ends by its epoch count, maybe while still improving (the run is "
            "then flagged; continue it with --resume --max-epochs N)"
        )
    return tuple(warnings)
