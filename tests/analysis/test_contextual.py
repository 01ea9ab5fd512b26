"""Size tuning and surround modulation recover the simulator's surround, on its noise-free twin."""

from __future__ import annotations

import numpy as np
import pytest
from gabor_twin import GaborTwin

from nwb_v1former.analysis.contextual import ContextConfig, contextual_modulation
from nwb_v1former.analysis.results import AnalysisProvenance
from nwb_v1former.analysis.tuning import angle_difference
from nwb_v1former.errors import ConfigError

PROVENANCE = AnalysisProvenance("twin.ckpt", "0" * 64, "twin")
CONFIG = ContextConfig(orientations=8, periods_px=(8.0, 12.0, 18.0), frames=24, settle=9)


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    rank = lambda v: np.argsort(np.argsort(v))  # noqa: E731
    return float(np.corrcoef(rank(a), rank(b))[0, 1])


@pytest.fixture(scope="module")
def neurons(recording):
    """12 neurons whose RFs lie well inside the frame (a disc cut by the border is not a disc)."""
    population = recording.population
    center = population.rf_center
    inside = (center[:, 0] > 8) & (center[:, 0] < 28) & (center[:, 1] > 10) & (center[:, 1] < 54)
    return population, np.flatnonzero(inside)[:12]


def _run(population, columns, surround: bool):
    return contextual_modulation(
        GaborTwin(population, surround=surround),
        "twin",
        columns,
        population.rf_center[columns],
        1.18 * population.rf_sigma_px[columns],  # the half-maximum radius of a Gaussian RF
        PROVENANCE,
        config=CONFIG,
    )


def test_size_tuning_follows_the_true_surround(neurons):
    population, columns = neurons
    result = _run(population, columns, surround=True)
    truth = np.rad2deg(population.orientation[columns]) % 180
    error = np.abs(angle_difference(result.orientation_deg, truth, 180))
    assert np.median(error) <= 12.0, error
    index = result.suppression_index
    assert np.all(np.isfinite(index)) and np.median(index) > 0.15
    assert _rank_correlation(index, population.surround_strength[columns]) > 0.4
    # The preferred size grows with the RF and sits below the full screen.
    assert _rank_correlation(result.preferred_diameter_px, population.rf_sigma_px[columns]) > 0.3
    assert np.median(result.preferred_diameter_px) < CONFIG.diameters_px[-1]
    # The simulated surround pools contrast whatever its orientation: iso and cross suppress alike.
    assert np.median(result.iso_modulation) < 0.95 and np.median(result.cross_modulation) < 0.95
    assert np.median(np.abs(result.iso_modulation - result.cross_modulation)) < 0.1
    # Without a surround, nothing is suppressed.
    flat = _run(population, columns, surround=False)
    assert np.median(flat.suppression_index) < 0.05
    assert result.table().column("roi_id").tolist() == population.roi_ids[columns].tolist()


def test_bad_context_config_is_one_clear_error():
    with pytest.raises(ConfigError, match="diameters_px must increase"):
        ContextConfig(diameters_px=(8.0, 4.0))
