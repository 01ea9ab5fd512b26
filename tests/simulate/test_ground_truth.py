"""The simulator's scientific claims, checked against its own ground truth."""

from __future__ import annotations

import dataclasses

import numpy as np

from nwb_v1former.metrics import correlation_per_neuron
from nwb_v1former.simulate import SimulationConfig, simulate
from nwb_v1former.simulate.schedule import TRAIN_TIER
from nwb_v1former.simulate.stimuli import GREY


def _quadratic_design(xy: np.ndarray) -> np.ndarray:
    x, y = (xy / xy.max(axis=0)).T
    return np.column_stack([np.ones_like(x), x, y, x * y, x**2, y**2, x**3, y**3, x**2 * y, x * y**2])


def test_receptive_field_centres_are_a_smooth_function_of_cortical_position(long_recording):
    population = long_recording.population
    design = _quadratic_design(population.position_um[:, :2])
    scatter = long_recording.config.retinotopic_scatter_px
    for axis in range(2):
        target = population.rf_center[:, axis]
        coefficients, *_ = np.linalg.lstsq(design, target, rcond=None)
        residual = target - design @ coefficients
        r_squared = 1 - residual.var() / target.var()
        assert r_squared > 0.9, f"axis {axis}: R^2 {r_squared:.3f}"
        # What a smooth map cannot explain is the per-neuron scatter, and nothing more.
        assert 0.8 * scatter < residual.std() < 1.2 * scatter
    # Cortical neighbours see neighbouring parts of the screen.
    position = population.position_um[:, :2]
    distance = np.linalg.norm(position[:, None] - position[None], axis=-1)
    np.fill_diagonal(distance, np.inf)
    nearest = distance.argmin(axis=1)
    rf_gap_neighbours = np.linalg.norm(population.rf_center - population.rf_center[nearest], axis=1)
    rf_gap_random = np.linalg.norm(population.rf_center - population.rf_center[::-1], axis=1)
    assert np.median(rf_gap_neighbours) < 0.3 * np.median(rf_gap_random)


def test_running_modulates_rates_with_each_neurons_gain(long_recording):
    running = long_recording.behavior.running_speed > 5.0
    resting = long_recording.behavior.running_speed < 0.5
    assert running.mean() > 0.1 and resting.mean() > 0.1
    rates = long_recording.rates
    log_ratio = np.log(rates[running].mean(axis=0) / rates[resting].mean(axis=0))
    gain = long_recording.population.gain_running
    rank = lambda v: np.argsort(np.argsort(v))  # noqa: E731
    spearman = np.corrcoef(rank(log_ratio), rank(gain))[0, 1]
    assert spearman > 0.6, spearman
    # Neurons with a clearly positive gain fire more when running, those with a negative one less.
    assert np.mean(log_ratio[gain > 0.5] > 0) > 0.9
    assert np.mean(log_ratio[gain < -0.1] < 0) > 0.7


def test_behaviour_is_plausible(long_recording):
    behavior = long_recording.behavior
    assert behavior.running_speed.min() >= 0.0
    assert np.corrcoef(behavior.running_speed, behavior.pupil_diameter)[0, 1] > 0.3
    steps = np.abs(np.diff(behavior.pupil_center, axis=0)).max(axis=1)
    assert (steps > 1.0).sum() >= 5, "expected saccades: jumps of more than a degree between frames"
    assert 0.5 < np.median(np.abs(behavior.pupil_center)) < 10


def test_repeated_clips_are_identical_on_screen_and_shared_across_animals(recording, small_config):
    schedule, screen = recording.schedule, recording.screen
    repeated = [c for c in np.unique(schedule.clip_id) if (schedule.clip_id == c).sum() > 1]
    assert len(repeated) == small_config.repeated_clips
    for clip in repeated:
        trials = np.flatnonzero(schedule.clip_id == clip)
        shown = [screen[schedule.start_tick[t] : schedule.stop_tick[t]] for t in trials]
        assert all(np.array_equal(shown[0], other) for other in shown[1:])
        assert len(set(schedule.tier[trials])) == 1, "a repeated clip must sit wholly in one tier"
        assert schedule.tier[trials[0]] != TRAIN_TIER
    other_animal = simulate(dataclasses.replace(small_config, animal=1))
    assert np.array_equal(other_animal.clips[repeated[0]], recording.clips[repeated[0]])
    train_clips = set(schedule.clip_id[schedule.tier == TRAIN_TIER].tolist())
    assert not train_clips & set(other_animal.clips), "training clips are unique to each animal"
    # Grey between clips, all three clip kinds in a session of this length.
    assert (screen[: schedule.start_tick[0]] == GREY).all()
    assert set(recording.clip_kinds().values()) == {"noise", "grating", "objects"}


def test_noise_ceiling_is_below_one_and_matches_the_data(long_recording):
    measurement = long_recording.measurement
    ceiling = measurement.noise_ceiling
    assert np.all((ceiling > 0.1) & (ceiling < 1.0))
    assert 0.4 < np.median(ceiling) < 0.95
    # The analytic ceiling is what the true expectation reaches on this draw.
    assert np.abs(ceiling - measurement.realised_ceiling).mean() < 0.03
    # No prediction beats the expectation: a noisy copy of it does worse.
    rng = np.random.default_rng(0)
    worse = measurement.expected + rng.normal(0, measurement.expected.std(), measurement.expected.shape)
    assert correlation_per_neuron(worse, measurement.measured).mean() < measurement.realised_ceiling.mean()


def test_noise_ceiling_is_consistent_with_repeated_presentations(long_recording):
    """For two repeats a, b with independent noise: corr(y_a, y_b) = corr(mu_a, mu_b) * ceil_a * ceil_b."""
    recording = long_recording
    schedule, measurement = recording.schedule, recording.measurement
    tick_of_frame = np.rint((measurement.times - recording.tick_times[0]) * 30.0).astype(int)
    observed, predicted = [], []
    for clip in np.unique(schedule.clip_id):
        trials = np.flatnonzero(schedule.clip_id == clip)
        if len(trials) < 2:
            continue
        segments = []
        for trial in trials:
            frames = np.flatnonzero(
                (tick_of_frame >= schedule.start_tick[trial]) & (tick_of_frame < schedule.stop_tick[trial])
            )
            segments.append(frames[: schedule.stop_tick[0] - schedule.start_tick[0] - 1])
        for a in range(len(trials)):
            for b in range(a + 1, len(trials)):
                ya, yb = measurement.measured[segments[a]], measurement.measured[segments[b]]
                ma, mb = measurement.expected[segments[a]], measurement.expected[segments[b]]
                observed.append(correlation_per_neuron(ya, yb))
                predicted.append(
                    correlation_per_neuron(ma, mb)
                    * correlation_per_neuron(ma, ya)
                    * correlation_per_neuron(mb, yb)
                )
    observed, predicted = np.mean(observed, axis=0), np.mean(predicted, axis=0)
    assert observed.mean() > 0.1, "repeats of a clip must evoke correlated responses"
    assert abs(observed.mean() - predicted.mean()) < 0.03
    assert np.corrcoef(observed, predicted)[0, 1] > 0.8


def test_same_seed_same_data_and_other_seed_other_data(small_config, recording):
    again = simulate(small_config)
    assert np.array_equal(again.measurement.measured, recording.measurement.measured)
    assert np.array_equal(again.screen, recording.screen)
    other = simulate(dataclasses.replace(small_config, seed=small_config.seed + 1))
    assert not np.array_equal(other.population.rf_center, recording.population.rf_center)


def test_imaging_on_ticks_lands_exactly_on_ticks():
    config = SimulationConfig(neurons=10, minutes=1.0, clip_seconds=2.0, imaging_phase=0.0, timing_jitter=0.0)
    recording = simulate(config)
    assert np.array_equal(recording.measurement.times, recording.tick_times)
    assert np.allclose(recording.measurement.expected, recording.measurement.expected_ticks, atol=1e-6)
