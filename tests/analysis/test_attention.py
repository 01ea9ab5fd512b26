"""Attention and behaviour: the shuffle control is exact, summaries come from the right tokens and pixels,
and on a fitted simulated animal every correlation comes with its circular-shift null."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nwb_v1former.analysis.attention import (
    BEHAVIORS,
    SUMMARIES,
    AttentionConfig,
    attention_behavior,
    attention_per_frame,
    patch_centers,
    relative_to_time_course,
    shift_correlations,
)
from nwb_v1former.analysis.insilico_figures import draw_attention
from nwb_v1former.analysis.results import provenance
from nwb_v1former.errors import SessionError
from nwb_v1former.metrics import benjamini_hochberg
from nwb_v1former.model.attention import capture_attention
from nwb_v1former.model.config import preset
from nwb_v1former.model.model import V1Former


def test_shift_null_is_every_circular_shift():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200).cumsum(), rng.normal(size=200).cumsum()
    observed, null = shift_correlations(a, b, min_shift=30)
    assert observed == pytest.approx(np.corrcoef(a, b)[0, 1])
    brute = [np.corrcoef(a, np.roll(b, shift))[0, 1] for shift in range(30, 171)]
    np.testing.assert_allclose(null, brute, atol=1e-10)
    assert np.isnan(shift_correlations(a, np.ones(200), 30)[0])


def test_time_course_is_removed_per_frame_of_trial():
    position = np.array([0, 1, 2, 0, 1, 2])
    values = np.array([1.0, 2.0, 3.0, 3.0, 4.0, 5.0])
    np.testing.assert_allclose(relative_to_time_course(values, position), [-1, -1, -1, 1, 1, 1])


@pytest.fixture(scope="module")
def tiny() -> V1Former:
    torch.manual_seed(0)
    model = V1Former(preset("tiny"))
    model.add_session("m", np.arange(3), np.random.default_rng(0).normal(size=(3, 3)))
    return model.eval()


def test_patch_centres_are_the_centres_of_the_pixels_each_token_sees(tiny):
    frame = torch.randn(1, 5, 5, 36, 64, generator=torch.Generator().manual_seed(2)).requires_grad_(True)
    tokens = tiny.core.tokenizer(frame)[0, -1]  # (P, E) of the last frame
    centres = patch_centers(tiny.core)
    for token in (17, 40, 126):  # inside the frame: no padding in their patches
        (gradient,) = torch.autograd.grad(tokens[token].square().sum(), frame, retain_graph=True)
        rows, columns = np.nonzero(gradient[0, 0, -1].abs().numpy())
        assert rows.max() - rows.min() == columns.max() - columns.min() == 7  # an 8 x 8 patch
        seen = np.mean([rows.min(), rows.max()]), np.mean([columns.min(), columns.max()])
        np.testing.assert_allclose(seen, centres[token])
    assert centres.shape == (9 * 16, 2) and centres[0].tolist() == [1.5, 1.5]


def test_summaries_are_those_of_the_full_attention_weights(tiny):
    generator = torch.Generator().manual_seed(1)
    frames = 12
    video = torch.randn(1, 1, frames, 36, 64, generator=generator)
    behavior, pupil = (
        torch.rand(1, 2, frames, generator=generator),
        torch.randn(1, 2, frames, generator=generator),
    )
    summaries = attention_per_frame(tiny, video, behavior, pupil)
    with torch.inference_mode(), capture_attention(tiny) as maps:
        tiny.core(video, behavior, pupil)
    registers = tiny.config.core.register_tokens
    spatial = maps.spatial[0].mean(1)[:, :-registers, :-registers].mean(1).double().numpy()  # (T, P)
    spatial /= spatial.sum(1, keepdims=True)
    centre = spatial @ patch_centers(tiny.core)
    np.testing.assert_allclose(summaries["spatial_center_x"], centre[:, 1], rtol=1e-5)
    np.testing.assert_allclose(summaries["spatial_center_y"], centre[:, 0], rtol=1e-5)
    temporal = maps.temporal[0].mean(1)[:, :frames, :frames].double().numpy()  # (P, T, T)
    lag = np.arange(frames)[:, None] - np.arange(frames)[None, :]
    np.testing.assert_allclose(summaries["temporal_mean_lag"], (temporal * lag).sum(-1).mean(0), rtol=1e-5)
    assert summaries["temporal_mean_lag"][0] == pytest.approx(0.0, abs=1e-6)  # frame 0 sees only itself
    assert np.all((summaries["spatial_entropy"] > 0) & (summaries["spatial_entropy"] <= 1 + 1e-9))
    assert np.all(summaries["temporal_entropy"][1:] <= 1 + 1e-9)


def test_attention_against_behaviour_on_a_fitted_animal(fitted_animal):
    store, model = fitted_animal.store, fitted_animal.model
    origin = provenance(fitted_animal.checkpoint, store.key, store)
    result = attention_behavior(model, store, origin, config=AttentionConfig(min_shift=150))
    trials = store.trials
    test = trials.tier == "test"
    assert len(result.frames["tick"]) == int((trials.stop_tick - trials.first_tick - 50)[test].sum())
    assert result.shifts == len(result.frames["tick"]) - 2 * 150 + 1
    assert np.isfinite(result.r).all() and np.all((result.p_value > 0) & (result.p_value <= 1))
    for r, p, band in zip(result.r.ravel(), result.p_value.ravel(), result.null_abs_95.ravel(), strict=True):
        assert (p <= 0.05 + 1 / result.shifts) if abs(r) > band else p >= 0.05
    table = result.table()
    assert len(table) == len(SUMMARIES) * len(BEHAVIORS)
    assert table.column("r").tolist() == result.r.ravel().tolist()
    assert result.summary()["correlations"]["spatial_center_x"]["pupil_x"]["r"] == result.r[0, 0]
    np.testing.assert_array_equal(result.p_adjusted, benjamini_hochberg(result.p_value))
    assert table.column("p_value_bh").tolist() == result.p_adjusted.ravel().tolist()
    figure = draw_attention(result)
    bars = [axes.get_ylabel() for axes in figure.get_axes() if axes.get_label() == "<colorbar>"]
    assert bars == ["Pearson r, attention summary vs behaviour"]
    n_trials = len(set(result.frames["trial"].tolist()))
    for axes in figure.get_axes()[2:]:  # the time courses: one line per series, broken between trials
        assert axes.get_ylabel() == "z-score (SD)" and axes.get_xlabel().startswith("seconds")
        for line in axes.get_lines()[:2]:
            assert np.isnan(line.get_ydata()).sum() == n_trials - 1
    with pytest.raises(SessionError, match="needs at least 2"):
        attention_behavior(model, store, origin, config=AttentionConfig(tier="train", skip=10_000))


def test_benjamini_hochberg_by_hand():
    # Sorted 0.005, 0.01, 0.03, 0.04 (m = 4) -> p m / rank = 0.02, 0.02, 0.04, 0.04, already monotone.
    p = np.array([[0.01, 0.04], [0.03, 0.005]])
    np.testing.assert_allclose(benjamini_hochberg(p), [[0.02, 0.04], [0.04, 0.02]])
    # The step-up minimum: 0.02 at rank 1 of 2 would be 0.04, but rank 2 (0.03 -> 0.03) caps it; NaN untested.
    np.testing.assert_allclose(benjamini_hochberg(np.array([0.03, np.nan, 0.02])), [0.03, np.nan, 0.03])
    np.testing.assert_allclose(benjamini_hochberg(np.array([0.9, 0.8])), [0.9, 0.9])  # 0.8 * 2 capped by 0.9
