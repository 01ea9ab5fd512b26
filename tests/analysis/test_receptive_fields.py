"""Receptive fields from gradients: the geometry of a known map, and the simulator's own RF centres and
sizes recovered from its noise-free twin."""

from __future__ import annotations

import numpy as np
import pytest
from gabor_twin import GaborTwin

from nwb_v1former.analysis.receptive_fields import NoiseConfig, map_geometry, map_receptive_fields
from nwb_v1former.analysis.results import AnalysisProvenance
from nwb_v1former.errors import ConfigError
from nwb_v1former.simulate import SimulationConfig
from nwb_v1former.simulate.population import make_population


def test_geometry_of_a_gaussian_blob():
    rows, columns = np.mgrid[0:36, 0:64]
    sigma = 3.0
    blob = np.exp(-((rows - 12.3) ** 2 + (columns - 40.6) ** 2) / (2 * sigma**2))
    geometry = map_geometry(np.stack([blob + 0.01, np.zeros((36, 64))]), smoothing_px=0.0)
    np.testing.assert_allclose(geometry["center"][0], [12.3, 40.6], atol=0.15)
    assert geometry["radius_px"][0] == pytest.approx(sigma * np.sqrt(2 * np.log(2)), rel=0.1)
    assert 0.9 < geometry["contrast"][0] < 1.0
    assert np.isnan(geometry["center"][1]).all(), "a flat map has no centre"


def test_the_simulators_rf_centres_and_sizes_are_recovered():
    population = make_population(SimulationConfig(neurons=40, seed=2), np.random.default_rng(1))
    result = map_receptive_fields(
        GaborTwin(population),
        "twin",
        AnalysisProvenance("twin.ckpt", "0" * 64, "twin"),
        config=NoiseConfig(clips=6, frames=12),
    )
    mapped = np.isfinite(result.radius_px)
    assert mapped.sum() >= 30  # simple cells below threshold in every clip have no gradient
    distance = np.linalg.norm(result.center[mapped] - population.rf_center[mapped], axis=1)
    shuffled = np.linalg.norm(result.center[mapped] - population.rf_center[mapped][::-1], axis=1)
    assert np.median(distance) < 0.75 and np.max(distance) < 3.0
    assert np.median(shuffled) > 10.0
    assert np.corrcoef(result.radius_px[mapped], population.rf_sigma_px[mapped])[0, 1] > 0.5
    table = result.table()
    assert table.column("rf_row")[mapped] == pytest.approx(result.center[mapped, 0])


def test_unknown_rois_are_refused():
    population = make_population(SimulationConfig(neurons=4, seed=2), np.random.default_rng(1))
    with pytest.raises(ConfigError, match=r"ROI ids \[-1\] are not in the readout"):
        map_receptive_fields(
            GaborTwin(population), "twin", AnalysisProvenance("c", "0", "twin"), roi_ids=np.array([-1])
        )
