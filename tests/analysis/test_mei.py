"""Most exciting images recover what drives the simulator's neurons, on its noise-free twin."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gabor_twin import GaborTwin

from nwb_v1former.analysis.mei import MEIConfig, most_exciting
from nwb_v1former.analysis.results import AnalysisProvenance
from nwb_v1former.analysis.stimulus_geometry import stimulus_geometry
from nwb_v1former.analysis.stimulus_space import (
    MovieSpectrum,
    Screen,
    initial_coefficients,
    spectrum_weights,
    synthesise,
)
from nwb_v1former.analysis.tuning import angle_difference
from nwb_v1former.errors import ConfigError

PROVENANCE = AnalysisProvenance("twin.ckpt", "0" * 64, "twin")
SCREEN = Screen(mean=128.0, std=50.0)
FAST = MEIConfig(frames=8, burn_in=4, settle=4, steps=30, starts=4, learning_rate=0.1, init_scale=1.0)
"""Four full-contrast starts: the twin's threshold gives no gradient to a start below it (a fitted
model's smooth output always does)."""


@pytest.fixture(scope="module")
def simple_cells(recording):
    """Four simple cells with RFs inside the frame."""
    population = recording.population
    row, column = population.rf_center.T
    inside = (row > 6) & (row < 30) & (column > 8) & (column < 56) & ~population.is_complex
    return population, np.flatnonzero(inside)[:4]


@pytest.fixture(scope="module")
def movies(recording) -> MovieSpectrum:
    return MovieSpectrum.of_frames(recording.screen[::20], SCREEN)


@pytest.fixture(scope="module")
def images(simple_cells, movies):
    """The twin's most exciting images of the simple cells, measured against the movies' spectrum."""
    population, columns = simple_cells
    return most_exciting(
        GaborTwin(population), "twin", columns, PROVENANCE, SCREEN, config=FAST, movie_spectrum=movies
    )


def test_stimuli_stay_on_the_screen_and_within_their_contrast_budget():
    coefficients = initial_coefficients(4, 3, torch.Generator().manual_seed(0), scale=5.0)
    stimuli = synthesise(coefficients, spectrum_weights(1.0, 3), SCREEN, contrast=0.5)
    black, white = SCREEN.bounds
    assert stimuli.min() >= black - 1e-5 and stimuli.max() <= white + 1e-5
    rms = stimuli.square().mean(dim=(1, 2, 3)).sqrt()
    assert torch.allclose(rms, torch.full_like(rms, 0.5), atol=1e-4)
    pixels = SCREEN.to_pixels(stimuli.numpy())
    assert pixels.dtype == np.uint8 and abs(float(pixels.mean()) - 128) < 10


def test_most_exciting_images_find_each_neurons_gabor(simple_cells, images):
    population, columns = simple_cells
    result = images
    driven = result.response > 2 * result.grey
    assert driven.mean() >= 0.5
    geometry = stimulus_geometry(result.stimuli[:, 0])
    position_error = np.linalg.norm(geometry["center"] - population.rf_center[columns], axis=1)
    truth = np.rad2deg(population.orientation[columns]) % 180
    orientation_error = np.abs(angle_difference(geometry["orientation_deg"], truth, 180))
    period_error = np.abs(np.log(geometry["period_px"] / population.period_px[columns]))
    assert np.median(position_error[driven]) < 3.0, position_error
    assert np.median(orientation_error[driven]) < 10.0, orientation_error
    assert np.median(period_error[driven]) < 0.25, period_error
    # Each image drives its own neuron more than the other neurons' images do.
    own = result.response[driven]
    assert np.all(own >= result.objective[driven].max(axis=1) - 1e-4)
    rms = np.sqrt((result.stimuli**2).mean(axis=(1, 2, 3)))
    assert np.all(rms <= FAST.contrast + 1e-4)
    table = result.table()
    assert table.column("roi_id").tolist() == population.roi_ids[columns].tolist()


def test_most_inhibiting_images_silence_and_a_population_image_drives_the_set(simple_cells):
    population, columns = simple_cells
    twin = GaborTwin(population)
    inhibit = most_exciting(
        twin,
        "twin",
        columns[:2],
        PROVENANCE,
        SCREEN,
        config=MEIConfig(**{**FAST.to_dict(), "direction": "inhibit"}),
    )
    assert np.all(inhibit.response <= inhibit.grey + 1e-6)
    together = most_exciting(twin, "twin", columns[:2], PROVENANCE, SCREEN, config=FAST, population=True)
    assert len(together.stimuli) == 1 and together.stimulus_of.tolist() == [0, 0]
    assert np.any(together.response > 2 * together.grey)


def test_a_centre_region_keeps_the_surround_grey(simple_cells):
    population, columns = simple_cells
    twin = GaborTwin(population)
    config = MEIConfig(**{**FAST.to_dict(), "region": "centre", "centre_radii": 1.0})
    center, radius = population.rf_center[columns[:2]], 1.18 * population.rf_sigma_px[columns[:2]]
    result = most_exciting(twin, "twin", columns[:2], PROVENANCE, SCREEN, config=config, rf=(center, radius))
    rows, cols = np.mgrid[0:36, 0:64]
    for image, (row, column), r in zip(result.stimuli[:, 0], center, radius, strict=True):
        outside = np.hypot(rows - row, cols - column) > r + 1.0
        assert np.abs(image[outside]).max() < 1e-6
    with pytest.raises(ConfigError, match="needs each ROI's RF"):
        most_exciting(twin, "twin", columns[:2], PROVENANCE, SCREEN, config=config)


def test_the_spectrum_is_measured_against_the_movies_and_held_near_them_on_request(
    simple_cells, movies, images
):
    """Without a hold the 1/f parameterisation already lands inside the movies' own frame-to-frame
    spread; the penalty brings every stimulus closer still, and the images still drive their neurons."""
    population, columns = simple_cells
    twin, free = GaborTwin(population), images
    held_config = MEIConfig(**{**FAST.to_dict(), "spectrum_weight": 10.0})
    held = most_exciting(twin, "twin", columns, PROVENANCE, SCREEN, config=held_config, movie_spectrum=movies)
    assert np.median(free.spectral_distance) < movies.frame_distance
    assert np.all(held.spectral_distance < free.spectral_distance)
    assert np.median(held.spectral_distance) < 0.6 * np.median(free.spectral_distance)
    assert np.mean(held.response > 2 * held.grey) >= 0.5
    summary = held.summary()
    assert summary["movie_frames_spectral_distance"] == movies.frame_distance
    assert held.table().column("spectral_distance").tolist() == held.spectral_distance.tolist()
    with pytest.raises(ConfigError, match="movie spectrum"):
        most_exciting(twin, "twin", columns, PROVENANCE, SCREEN, config=held_config)
