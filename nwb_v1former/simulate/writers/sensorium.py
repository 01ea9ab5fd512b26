"""`sensorium` layout: the Sensorium 2023 folder tree of .npy files (see shared docs, DATA.md).

One file per trial under data/{videos,responses,behavior,pupil_center}, NaN-padded at the end to a
fixed length; file index order is not presentation order (meta/trials/trial_idx gives it); tiers,
neuron coordinates, unit ids and training-tier statistics under meta/. With `hidden_test=True` the
test-tier responses are all zeros, as for the competition's new mice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nwb_v1former.atomic import atomic_output
from nwb_v1former.errors import ConfigError
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.simulate.recording import Recording
from nwb_v1former.simulate.schedule import TRAIN_TIER

PADDING_FRAMES = 24
HIDDEN_TIERS = ("final_test_main",)


def sensorium_folder_name(recording: Recording) -> str:
    """Folder name in Sensorium's pattern: dynamic<animal>-<session>-<scan>-Video-<hash>."""
    return f"dynamic{90000 + recording.config.animal}-{recording.config.seed}-1-Video-simulated"


def _check_on_ticks(recording: Recording) -> None:
    config = recording.config
    if config.imaging_rate != TICK_RATE_HZ or config.imaging_phase != 0.0 or config.timing_jitter != 0.0:
        raise ConfigError(
            f"the sensorium layout stores responses on the {TICK_RATE_HZ:g} Hz frame grid: simulate with "
            f"imaging_rate={TICK_RATE_HZ:g}, "
            "imaging_phase=0 and timing_jitter=0 (simulate_and_write does this for layout 'sensorium')"
        )


def _statistics(stack: np.ndarray, axes: tuple[int, ...]) -> dict[str, np.ndarray]:
    return {
        "mean": np.nanmean(stack, axis=axes),
        "std": np.nanstd(stack, axis=axes),
        "min": np.nanmin(stack, axis=axes),
        "max": np.nanmax(stack, axis=axes),
        "median": np.nanmedian(stack, axis=axes),
    }


def write_sensorium(
    recording: Recording, path: Path, *, overwrite: bool = False, hidden_test: bool = False
) -> Path:
    """Write `recording` as a Sensorium 2023 mouse folder at `path`."""
    _check_on_ticks(recording)
    schedule, behavior = recording.schedule, recording.behavior
    measured = recording.measurement.measured
    n_trials, clip_frames = schedule.n_trials, recording.config.clip_frames
    padded = clip_frames + PADDING_FRAMES
    file_of_trial = np.random.default_rng([recording.config.seed, recording.config.animal, 324]).permutation(
        n_trials
    )

    with atomic_output(path, overwrite=overwrite) as root:
        for sub in ("videos", "responses", "behavior", "pupil_center"):
            (root / "data" / sub).mkdir(parents=True)
        train_stacks: dict[str, list[np.ndarray]] = {
            "videos": [],
            "responses": [],
            "behavior": [],
            "pupil_center": [],
        }
        for trial in range(n_trials):
            ticks = slice(schedule.start_tick[trial], schedule.stop_tick[trial])
            arrays = {
                "videos": recording.screen[ticks].transpose(1, 2, 0).astype(np.float32),
                "responses": measured[ticks].T.copy(),
                "behavior": np.stack([behavior.pupil_diameter[ticks], behavior.running_speed[ticks]]),
                "pupil_center": behavior.pupil_center[ticks].T.copy(),
            }
            if hidden_test and schedule.tier[trial] in HIDDEN_TIERS:
                arrays["responses"][:] = 0.0
            for name, values in arrays.items():
                pad = np.full((*values.shape[:-1], padded - clip_frames), np.nan, dtype=np.float32)
                np.save(
                    root / "data" / name / f"{file_of_trial[trial]}.npy",
                    np.concatenate([values, pad], axis=-1),
                )
                if schedule.tier[trial] == TRAIN_TIER:
                    train_stacks[name].append(values)

        meta = root / "meta"
        for sub in ("neurons", "trials"):
            (meta / sub).mkdir(parents=True)
        population = recording.population
        np.save(
            meta / "neurons" / "cell_motor_coordinates.npy", np.rint(population.position_um).astype(np.int64)
        )
        np.save(meta / "neurons" / "unit_ids.npy", population.roi_ids)
        order = np.argsort(file_of_trial)
        np.save(meta / "trials" / "tiers.npy", schedule.tier[order].astype("<U16"))
        np.save(meta / "trials" / "trial_idx.npy", order.astype(np.int64))
        axes = {"videos": None, "responses": (0, 2), "behavior": (0, 2), "pupil_center": (0, 2)}
        for name, stack in train_stacks.items():
            folder = meta / "statistics" / name / "all"
            folder.mkdir(parents=True)
            for statistic, value in _statistics(np.stack(stack), axes[name]).items():
                np.save(folder / f"{statistic}.npy", np.asarray(value, dtype=np.float32))
    return path
