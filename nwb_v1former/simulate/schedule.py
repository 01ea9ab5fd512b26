"""Trial schedule: which clip is shown when, and which clips repeat (Sensorium-like tiers)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nwb_v1former.errors import ConfigError
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.simulate.config import SimulationConfig

ORACLE_TIER = "oracle"
TEST_TIER = "final_test_main"
TRAIN_TIER = "train"


@dataclass(frozen=True)
class Schedule:
    """Trials laid end to end on the 30 Hz grid, each preceded by a grey gap.

    Arrays are per trial, in presentation order:
    start_tick, stop_tick (n_trials,) int64 -- first tick shown and one past the last;
    clip_id (n_trials,) int64 -- index into the clip library (repeated clips share an id);
    tier (n_trials,) str -- train | oracle | final_test_main.
    """

    start_tick: np.ndarray
    stop_tick: np.ndarray
    clip_id: np.ndarray
    tier: np.ndarray
    n_ticks: int

    @property
    def n_trials(self) -> int:
        return len(self.clip_id)


def repeat_plan(config: SimulationConfig) -> tuple[int, int, int]:
    """(trials, repeated clips, repeats) that fit in the session; repeats shrink for short sessions."""
    trial_seconds = config.clip_seconds + config.gap_seconds
    n_trials = int(config.minutes * 60.0 // trial_seconds)
    needed = 2 * config.repeated_clips + 1
    if n_trials < needed:
        raise ConfigError(
            f"session too short: {config.minutes} min gives {n_trials} trials of {trial_seconds:g} s, "
            f"but {config.repeated_clips} repeated clips need at least {needed}; "
            "raise --minutes or lower the clip length"
        )
    # Repeats take at most half of the trials, so training keeps the other half.
    repeats = max(2, min(config.repeats, (n_trials // 2) // config.repeated_clips))
    return n_trials, config.repeated_clips, repeats


def make_schedule(config: SimulationConfig, rng: np.random.Generator) -> Schedule:
    """Draw the presentation order. Clip ids 0..repeated_clips-1 are shared by every animal of a seed;
    training clips are unique to each animal (ids offset by the animal index)."""
    n_trials, n_repeated, repeats = repeat_plan(config)
    if config.only_repeats:
        repeats = n_trials // n_repeated
        n_trials = n_repeated * repeats
    n_unique = n_trials - n_repeated * repeats
    repeated_ids = np.repeat(np.arange(n_repeated), repeats)
    unique_ids = n_repeated + config.animal * 100_000 + np.arange(n_unique)
    clip_id = np.concatenate([repeated_ids, unique_ids])
    tier = np.array(
        [ORACLE_TIER if c % 2 == 0 else TEST_TIER for c in repeated_ids] + [TRAIN_TIER] * n_unique,
        dtype=object,
    ).astype(str)
    order = rng.permutation(n_trials)
    clip_id, tier = clip_id[order], tier[order]
    period = config.clip_frames + config.gap_frames
    start_tick = config.gap_frames + period * np.arange(n_trials)
    stop_tick = start_tick + config.clip_frames
    n_ticks = int(stop_tick[-1] + config.gap_frames)
    return Schedule(start_tick, stop_tick, clip_id, tier, n_ticks)


def tick_times(n_ticks: int, start_time: float) -> np.ndarray:
    """Time (s) of each 30 Hz tick on the session clock; (n_ticks,) float64."""
    return start_time + np.arange(n_ticks) / TICK_RATE_HZ
