"""The ground-truth file written beside every simulated session (`<session>.truth.npz`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nwb_v1former.simulate.recording import Recording

POPULATION_FIELDS = (
    "roi_ids",
    "position_um",
    "plane",
    "rf_center",
    "orientation",
    "period_px",
    "phase",
    "rf_sigma_px",
    "is_complex",
    "latency_s",
    "gain_running",
    "gain_pupil",
    "baseline",
    "amplitude",
    "surround_strength",
    "surround_sigma_px",
)


def truth_arrays(recording: Recording) -> dict[str, np.ndarray]:
    """Everything a test or benchmark needs to score a reader or a model against the truth.

    On the 30 Hz grid (T ticks): screen, tick_times, rates, expected_ticks, running_speed,
    pupil_diameter, pupil_center. At the imaging times (M frames): imaging_times, expected.
    Per neuron (N): the population's parameters, noise_ceiling, realised_ceiling, and the session's
    response normalisation (drive_scale, half_saturation, surround_reference; pupil_mean and
    pupil_std are scalars).
    Per trial: trial_start_tick, trial_stop_tick, trial_clip_id, trial_tier.
    """
    population, measurement, behavior, schedule = (
        recording.population,
        recording.measurement,
        recording.behavior,
        recording.schedule,
    )
    arrays = {name: np.asarray(getattr(population, name)) for name in POPULATION_FIELDS}
    arrays.update(
        screen=recording.screen,
        tick_times=recording.tick_times,
        rates=recording.rates,
        expected_ticks=measurement.expected_ticks,
        imaging_times=measurement.times,
        expected=measurement.expected,
        noise_ceiling=measurement.noise_ceiling,
        realised_ceiling=measurement.realised_ceiling,
        running_speed=behavior.running_speed,
        pupil_diameter=behavior.pupil_diameter,
        pupil_center=behavior.pupil_center,
        trial_start_tick=schedule.start_tick,
        trial_stop_tick=schedule.stop_tick,
        trial_clip_id=schedule.clip_id,
        trial_tier=schedule.tier.astype("<U16"),
        drive_scale=recording.normalisation.drive_scale,
        half_saturation=recording.normalisation.half_saturation,
        surround_reference=recording.normalisation.surround_reference,
        pupil_mean=np.float64(recording.normalisation.pupil_mean),
        pupil_std=np.float64(recording.normalisation.pupil_std),
    )
    return arrays


def write_truth(recording: Recording, path: Path) -> Path:
    """Save the ground truth as a compressed .npz (readable with plain numpy)."""
    np.savez_compressed(path, **truth_arrays(recording))
    return path


def load_truth(path: str | Path, names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Load a ground-truth file into a dict of arrays; only `names` when given (members load lazily)."""
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in (names or archive.files)}
