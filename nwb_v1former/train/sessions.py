"""The sessions a run trains on: each one's training windows, validation trials and share of the loss.

Checked up front, so a session that cannot be trained or validated on stops the run with one line
before any work.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from nwb_v1former import metrics
from nwb_v1former.data.dataset import WindowDataset
from nwb_v1former.data.store import SessionStore
from nwb_v1former.errors import SessionError
from nwb_v1former.inference.evaluation import tier_trials
from nwb_v1former.model.window import WindowRule
from nwb_v1former.train.config import TrainConfig


@dataclass(frozen=True)
class TrainingSession:
    """One session as training sees it: its windows, its validation trials and its loss weight."""

    store: SessionStore
    windows: WindowDataset
    validation: np.ndarray
    share: float

    @property
    def key(self) -> str:
        return self.store.key


def training_subset(store: SessionStore, fraction: float, seed: int) -> np.ndarray:
    """(n_trials,) bool: a seeded `fraction` of the train trials (at least one); nested in `fraction`."""
    train = np.flatnonzero(store.trials.tier == "train")
    order = np.random.default_rng([seed, zlib.crc32(store.key.encode())]).permutation(train)
    subset = np.zeros(len(store.trials), dtype=bool)
    subset[order[: max(1, round(fraction * len(train)))]] = True
    return subset


def resolve_window(stores: list[SessionStore], config: TrainConfig, rule: WindowRule) -> int:
    """The window length: as configured, else the shortest train trial of any session; at most the
    model's window (`rule.length`)."""
    lengths = [
        int((s.trials.stop_tick - s.trials.first_tick)[s.trials.tier == "train"].min())
        for s in stores
        if (s.trials.tier == "train").any()
    ]
    return rule.training_window(config.window, min(lengths, default=rule.length))


def training_sessions(
    stores: list[SessionStore], config: TrainConfig, rule: WindowRule
) -> list[TrainingSession]:
    """Check every session can be trained and validated on; one clear line for the first that cannot."""
    if not stores:
        raise SessionError("no sessions to train on; pass converted sessions or NWB files")
    keys = [store.key for store in stores]
    if len(set(keys)) != len(keys):
        raise SessionError(f"session keys repeat ({', '.join(keys)}); give each session once")
    window = resolve_window(stores, config, rule)
    built = []
    for store in stores:
        counts = {tier: int((store.trials.tier == tier).sum()) for tier in ("train", "validation")}
        if counts["train"] == 0:
            raise SessionError(
                f"the training tier is empty ({len(store.trials)} trials, none 'train'); "
                "the session needs training trials (check its tier column or convert it again)",
                where=store.folder,
            )
        validation = tier_trials(store, "validation")
        if not len(validation):
            raise SessionError(
                f"too few trials: no validation trial longer than {metrics.SKIP_FRAMES} "
                f"ticks ({counts['validation']} validation trials); early stopping needs at least one",
                where=store.folder,
            )
        subset = training_subset(store, config.train_fraction, config.seed)
        built.append(
            (store, WindowDataset(store, window=window, tiers=("train",), subset=subset), validation)
        )
    total = sum(len(windows) for _, windows, _ in built)
    return [
        TrainingSession(store, windows, validation, len(windows) / total)
        for store, windows, validation in built
    ]


def evaluation_tier(store: SessionStore) -> str:
    """Where a run's best weights are scored: the test tier, else validation."""
    return "test" if len(tier_trials(store, "test")) else "validation"
