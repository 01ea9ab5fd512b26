"""Surround suppression: size tuning has a true answer, and the simulated animal obeys it."""

from __future__ import annotations

import dataclasses

import numpy as np

from nwb_v1former.metrics import correlation_per_neuron
from nwb_v1former.simulate.responses import event_rates
from nwb_v1former.simulate.size_tuning import disc_gratings, true_size_tuning
from nwb_v1former.simulate.stimuli import GREY

DIAMETERS = np.array([4.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 80.0])
HOLD, BLANK = 45, 30
"""Ticks each disc is held, and of grey before it."""


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    rank = lambda v: np.argsort(np.argsort(v))  # noqa: E731
    return float(np.corrcoef(rank(a), rank(b))[0, 1])


def _shown_to_the_animal(recording, population) -> np.ndarray:
    """Each neuron shown its own grating in the discs, one after another on grey, still, eye centred,
    with its session's normalisation: the mean rate over each disc's last 10 ticks; (N, D)."""
    frames = disc_gratings(
        population.rf_center, population.orientation, population.period_px, population.phase, DIAMETERS
    )
    ticks = len(DIAMETERS) * (BLANK + HOLD)
    behavior = dataclasses.replace(
        recording.behavior,
        running_speed=np.zeros(ticks),
        pupil_diameter=np.full(ticks, recording.normalisation.pupil_mean),
        pupil_center=np.zeros((ticks, 2)),
    )
    ends = (np.arange(len(DIAMETERS)) + 1) * (BLANK + HOLD)
    out = np.empty((population.size, len(DIAMETERS)), np.float32)
    for neuron in range(population.size):
        screen = np.full((ticks, *frames.shape[2:]), GREY, np.uint8)
        for k, end in enumerate(ends):
            screen[end - HOLD : end] = np.clip(np.rint(GREY + 127 * frames[neuron, k]), 0, 255)
        one = slice(neuron, neuron + 1)
        rates, _ = event_rates(screen, behavior, population.subset(one), recording.normalisation.subset(one))
        out[neuron] = [rates[end - 10 : end, 0].mean() for end in ends]
    return out


def test_size_tuning_has_a_true_answer_that_the_simulated_animal_shows(recording):
    population, normalisation = recording.population, recording.normalisation
    truth = true_size_tuning(population, normalisation, DIAMETERS)
    shown = _shown_to_the_animal(recording, population)
    # The analytic steady state is what the animal does, response for response.
    assert np.corrcoef(truth.ravel(), shown.ravel())[0, 1] > 0.99
    assert np.median(np.abs(truth - shown) / truth.max(axis=1, keepdims=True)) < 0.02
    suppression_index = 1 - truth[:, -1] / truth.max(axis=1)
    preferred = DIAMETERS[truth.argmax(axis=1)]
    driven = truth.max(axis=1) > 2 * population.baseline
    assert driven.mean() > 0.9
    # Suppressed by a full-screen grating, more so with a stronger surround; the preferred size is
    # about the RF's diameter (the centre saturates there), well within the reach of its surround.
    assert np.median(suppression_index[driven]) > 0.2
    assert _rank_correlation(suppression_index[driven], population.surround_strength[driven]) > 0.5
    assert 0.5 < np.median(preferred[driven] / (2 * population.rf_sigma_px[driven])) < 2.0
    assert _rank_correlation(preferred[driven], population.rf_sigma_px[driven]) > 0.3
    assert np.all(preferred[driven] < 4 * population.surround_sigma_px[driven])
    # Without a surround the full screen drives each neuron as well as any disc.
    unsuppressed = dataclasses.replace(population, surround_strength=np.zeros(population.size))
    flat = true_size_tuning(unsuppressed, normalisation, DIAMETERS)
    assert np.all(flat[:, -1] >= 0.99 * flat.max(axis=1))


def test_suppression_leaves_natural_movie_responses_at_their_level(recording):
    """The divisor is 1 at the session's mean surround contrast: rates keep their level and mostly
    their time course, so models fitted before the surround existed still fit."""
    unsuppressed = dataclasses.replace(
        recording.population, surround_strength=np.zeros(recording.population.size)
    )
    without, _ = event_rates(recording.screen, recording.behavior, unsuppressed)
    ratio = recording.rates.mean(axis=0) / without.mean(axis=0)
    assert 0.8 < np.median(ratio) < 1.25
    assert np.median(correlation_per_neuron(without, recording.rates)) > 0.9
