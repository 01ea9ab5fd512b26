"""Receptive fields from gradients: the geometry of a known map, and the simulator's own RF centres and
sizes recovered from its noise-free twin."""

from __future__ import annotations

import numpy as np
import pytest
from gabor_twin import GaborTwin

from nwb_v1former.analysis.insilico_figures import draw_receptive_fields
from nwb_v1former.analysis.receptive_fields import (
    NEIGHBOURHOOD_RADII,
    NoiseConfig,
    map_geometry,
    map_receptive_fields,
)
from nwb_v1former.analysis.results import AnalysisProvenance
from nwb_v1former.errors import ConfigError
from nwb_v1former.simulate import SimulationConfig
from nwb_v1former.simulate.population import make_population


def test_geometry_of_a_gaussian_blob():
    rows, columns = np.mgrid[0:36, 0:64]
    sigma = 3.0
    blob = np.exp(-((rows - 12.3) ** 2 + (columns - 40.6) ** 2) / (2 * sigma**2))
    geometry = map_geometry(np.stack([blob, np.zeros((36, 64))]), smoothing_px=0.0)
    np.testing.assert_allclose(geometry["center"][0], [12.3, 40.6], atol=0.15)
    assert geometry["radius_px"][0] == pytest.approx(sigma * np.sqrt(2 * np.log(2)), rel=0.1)
    assert geometry["contrast"][0] == pytest.approx(1 - 2 ** -(NEIGHBOURHOOD_RADII**2), abs=0.03)  # 0.79
    assert np.isnan(geometry["center"][1]).all(), "a flat map has no centre"


def test_rf_contrast_tells_an_rf_from_noise():
    """The old (peak - median) / (peak + median) was 0.9997-1.0000 for every map; the share of the map
    near its centre is 0.79 for a Gaussian RF, stays high under noise, and is small for noise alone."""
    rng = np.random.default_rng(0)
    rows, columns = np.mgrid[0:36, 0:64]
    blob = np.exp(-((rows - 20) ** 2 + (columns - 15) ** 2) / (2 * 2.5**2))
    noise = rng.normal(size=(20, 36, 64)) ** 2  # squared gradients of a neuron without an RF
    real = map_geometry(blob + 0.003 * noise, smoothing_px=1.5)["contrast"]
    none = map_geometry(noise, smoothing_px=1.5)["contrast"]
    assert real.min() > 0.6 and none.max() < 0.2


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
    figure = draw_receptive_fields(result)
    bars = [axes.get_ylabel() for axes in figure.get_axes() if axes.get_label() == "<colorbar>"]
    assert bars == ["sensitivity (fraction of the ROI's peak)", "RF contrast (share of map near centre)"]
    assert all("px" in axes.get_ylabel() or "pixels" in axes.get_ylabel() for axes in figure.get_axes()[:6:3])


def test_unknown_rois_are_refused():
    population = make_population(SimulationConfig(neurons=4, seed=2), np.random.default_rng(1))
    with pytest.raises(ConfigError, match=r"ROI ids \[-1\] are not in the readout"):
        map_receptive_fields(
            GaborTwin(population), "twin", AnalysisProvenance("c", "0", "twin"), roi_ids=np.array([-1])
        )


def _brightness_at(maps: np.ndarray, centers: np.ndarray, radius: float = 2.0) -> np.ndarray:
    """Mean of each map (M, 36, 64) within `radius` px of its point (M, 2), over the map's peak; (M,)."""
    rows, columns = np.mgrid[0:36, 0:64]
    return np.array(
        [
            m[np.hypot(rows - r, columns - c) < radius].mean() / m.max()
            for m, (r, c) in zip(maps, centers, strict=True)
        ]
    )


def test_rf_maps_of_the_fitted_animal_are_bright_at_the_true_centre_not_hollow_squares(fitted_animal):
    """The square was the tokenizer: per pixel, the gradient is the squared filter of the patches the
    readout reads, heaviest on their borders, so the true RF centre sat in a dark hollow (measured 0.10 of
    the peak with pixel gradients, blur 0). Gradients with respect to the noise itself see it as a blob."""
    columns = fitted_animal.best(12)
    store, truth = fitted_animal.store, fitted_animal.truth["rf_center"][columns]

    def maps(blur_px: float):
        return map_receptive_fields(
            fitted_animal.model,
            store.key,
            AnalysisProvenance("tiny-sim", "0" * 64, store.key),
            config=NoiseConfig(clips=2, frames=8, blur_px=blur_px),
            roi_ids=store.roi_ids[columns],
        )

    result, per_pixel = maps(NoiseConfig().blur_px), maps(0.0)
    assert np.median(_brightness_at(per_pixel.maps, truth)) < 0.2  # the hollow square, reproduced
    assert np.median(_brightness_at(result.maps, truth)) > 0.3
    assert np.median(np.linalg.norm(result.center - truth, axis=1)) < 4.0  # the readout's own error: 2.4 px
    assert np.median(result.contrast) > 0.6
