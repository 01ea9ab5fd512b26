"""Drifting-grating tuning: the selectivity arithmetic, the stimulus convention, and the simulator's own
neurons (as a noise-free twin) recovered exactly: orientation, no direction preference, running gain."""

from __future__ import annotations

import numpy as np
import pytest
from gabor_twin import GaborTwin

from nwb_v1former.analysis.experiment import DEFAULT_STATES
from nwb_v1former.analysis.results import AnalysisProvenance
from nwb_v1former.analysis.tuning import (
    GratingConfig,
    angle_difference,
    grating_clips,
    measure_tuning,
    vector_selectivity,
)
from nwb_v1former.errors import ConfigError
from nwb_v1former.simulate import SimulationConfig
from nwb_v1former.simulate.population import make_population

PROVENANCE = AnalysisProvenance("twin.ckpt", "0" * 64, "twin")
GRATINGS = GratingConfig(
    directions=12, periods_px=(8.0, 12.0, 18.0), temporal_hz=(2.0,), frames=40, settle=10
)


def test_vector_selectivity_of_known_curves():
    directions = np.arange(8) * 45.0
    one_direction = np.zeros((8, 1))
    one_direction[2] = 1.0  # only 90 deg (downward)
    axis = np.zeros((8, 1))
    axis[[1, 5]] = 1.0  # 45 and 225 deg: an orientation, no direction
    flat, silent = np.ones((8, 1)), np.zeros((8, 1))
    result = vector_selectivity(np.hstack([one_direction, axis, flat, silent]), directions)
    np.testing.assert_allclose(result["osi"][:3], [1.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(result["dsi"][:3], [1.0, 0.0, 0.0], atol=1e-12)
    assert result["preferred_direction_deg"][0] == pytest.approx(90.0)
    assert result["preferred_orientation_deg"][:2] == pytest.approx([90.0, 45.0])
    assert all(np.isnan(values[3]) for values in result.values())


def test_gratings_drift_in_their_direction():
    config = GratingConfig(directions=4, periods_px=(16.0,), temporal_hz=(3.75,), frames=3, settle=0)
    clips = grating_clips(config).numpy()  # directions 0 (right), 90 (down), 180, 270
    step = 16.0 * 3.75 / 30.0  # 2 pixels per tick
    np.testing.assert_allclose(clips[0, 1, :, 2:], clips[0, 0, :, :-2], atol=1e-5)
    np.testing.assert_allclose(clips[1, 1, 2:, :], clips[1, 0, :-2, :], atol=1e-5)
    assert step == 2.0 and clips.std() == pytest.approx(1.5 / np.sqrt(2), rel=0.05)


def test_wrapped_angle_difference():
    assert angle_difference(np.array([179.0, 1.0, 90.0]), np.array([1.0, 179.0, 0.0]), 180).tolist() == [
        -2.0,
        2.0,
        -90.0,
    ]


@pytest.fixture(scope="module")
def twin_tuning():
    population = make_population(SimulationConfig(neurons=60, seed=1), np.random.default_rng(0))
    return population, measure_tuning(GaborTwin(population), "twin", PROVENANCE, config=GRATINGS)


def test_the_simulators_orientations_are_recovered(twin_tuning):
    population, result = twin_tuning
    truth = np.rad2deg(population.orientation) % 180
    error = np.abs(angle_difference(result.preferred_orientation_deg[0], truth, 180))
    shuffled = np.abs(angle_difference(result.preferred_orientation_deg[0], truth[::-1], 180))
    assert np.median(error) < 1.0 and np.percentile(error, 90) < 4.0
    assert np.median(shuffled) > 25.0
    assert np.nanmedian(result.dsi[0]) < 0.05, "Gabor cells have no direction preference"
    assert np.nanmedian(result.osi[0]) > 0.5 and np.median(result.depth[0]) > 0.5


def test_running_scales_responses_by_the_true_gain_and_keeps_the_tuning(twin_tuning):
    population, result = twin_tuning
    names = [state.name for state in result.states]
    still, running = names.index("still"), names.index("running")
    assert np.corrcoef(result.modulation_index(running), population.gain_running)[0, 1] > 0.99
    np.testing.assert_allclose(result.osi[running], result.osi[still], atol=1e-4)
    table = result.table()
    assert table.name == "insilico_tuning" and table.column("roi_id").tolist() == population.roi_ids.tolist()
    shift = table.column("running_orientation_shift_deg")
    assert np.nanmax(np.abs(shift)) < 0.01
    assert "sha256 " + "0" * 64 in table.description


def test_a_faint_modulation_is_not_called_tuned(twin_tuning):
    """The same neurons with their stimulus drive 1000x weaker on a high baseline: the baseline-subtracted
    OSI still looks sharp, but the tuning depth says the ROIs hardly care, and the summary says so."""
    population, tuned = twin_tuning
    faint_twin = GaborTwin(population)
    faint_twin.amplitude *= 1e-3
    faint_twin.baseline += 1.0
    faint = measure_tuning(faint_twin, "twin", PROVENANCE, config=GRATINGS, states=DEFAULT_STATES[:1])
    assert np.nanmedian(faint.osi[0]) > 0.5 and np.nanmax(faint.depth[0]) < 0.05
    assert not faint.tuned.any() and faint.summary()["still"]["tuned_rois"] == 0
    assert faint.summary()["still"]["median_osi"] is None
    summary = tuned.summary()["still"]
    assert summary["tuned_rois"] == int(tuned.tuned[0].sum()) >= 0.9 * len(population.roi_ids)
    assert summary["median_osi"] == pytest.approx(np.median(tuned.osi[0][tuned.tuned[0]]))
    assert tuned.table().column("still_tuned").tolist() == tuned.tuned[0].tolist()


def test_bad_grating_config_is_one_clear_error():
    with pytest.raises(ConfigError, match="settle must be in"):
        GratingConfig(frames=10, settle=10)
