"""Training-tier statistics and ViV1T's normalisation: the numbers a model is trained on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nwb_v1former.data import Normalizer, compute_statistics, stats
from nwb_v1former.data.stats import statistic_ranges
from nwb_v1former.errors import SessionError

N_TICKS = 400
# train ticks: [0, 100) and [180, 300); the gap [160, 180) belongs to no trial
SPEC = [
    (0, 100, "train"),
    (100, 160, "validation"),
    (180, 300, "train"),
    (300, 350, "test"),
    (350, 400, "none"),
]
TRAIN = np.r_[0:100, 180:300]
MEANS = np.array([0.5, 3.0, 10.0, 1000.0])
STDS = np.array([0.1, 1.0, 4.0, 0.05])


def _arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Known per-neuron mean/std on train ticks; far-off values everywhere else."""
    rng = np.random.default_rng(seed)
    responses = np.full((N_TICKS, len(MEANS)), 5000.0, np.float32)
    noise = rng.normal(size=(len(TRAIN), len(MEANS)))
    responses[TRAIN] = MEANS + STDS * (noise - noise.mean(0)) / noise.std(0)  # exactly MEANS, STDS
    video = np.full((N_TICKS, 36, 64), 255, np.uint8)
    video[TRAIN] = rng.integers(0, 120, (len(TRAIN), 36, 64))
    behavior = np.full((N_TICKS, 2), -300.0, np.float32)
    behavior[TRAIN] = rng.normal([4.0, 20.0], [1.0, 8.0], (len(TRAIN), 2))
    pupil_center = np.full((N_TICKS, 2), 99.0, np.float32)
    pupil_center[TRAIN] = rng.normal([1.0, -1.0], [0.3, 0.6], (len(TRAIN), 2))
    return {"video": video, "responses": responses, "behavior": behavior, "pupil_center": pupil_center}


@pytest.mark.parametrize("block_values", [stats.BLOCK_VALUES, 64])  # one block per range, or many
def test_statistics_equal_numpy_over_train_ticks_only(trials_from, monkeypatch, block_values):
    monkeypatch.setattr(stats, "BLOCK_VALUES", block_values)
    arrays = _arrays()
    result = compute_statistics(**arrays, trials=trials_from(SPEC))

    for name, values in arrays.items():
        train = values[TRAIN].astype(np.float64)
        axis = None if name == "video" else 0
        np.testing.assert_allclose(result[f"{name}_mean"], train.mean(axis=axis), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(result[f"{name}_std"], train.std(axis=axis), rtol=1e-5, atol=1e-6)
        assert result[f"{name}_mean"].dtype == np.float32 and result[f"{name}_std"].dtype == np.float32
    assert result["video_mean"].shape == result["video_std"].shape == ()
    assert result["responses_std"].shape == (4,)
    assert result["behavior_std"].shape == result["pupil_center_mean"].shape == (2,)
    np.testing.assert_allclose(result["responses_mean"], MEANS, rtol=1e-5)  # the values we put in
    np.testing.assert_allclose(result["responses_std"], STDS, rtol=1e-4)


def test_statistics_read_from_memory_maps(tmp_path, trials_from):
    arrays = _arrays(seed=1)
    maps = {}
    for name, values in arrays.items():
        np.save(tmp_path / f"{name}.npy", values)
        maps[name] = np.load(tmp_path / f"{name}.npy", mmap_mode="r")
    from_maps = compute_statistics(**maps, trials=trials_from(SPEC))
    in_memory = compute_statistics(**arrays, trials=trials_from(SPEC))
    for key, value in in_memory.items():
        np.testing.assert_allclose(from_maps[key], value, rtol=1e-6)


def test_ranges_merge_adjacent_and_overlapping_train_trials(trials_from):
    spec = [
        (0, 50, "train"),
        (50, 80, "train"),
        (70, 90, "train"),
        (95, 99, "validation"),
        (100, 120, "train"),
    ]
    assert statistic_ranges(trials_from(spec), 200) == [(0, 90), (100, 120)]


def test_without_train_trials_all_trials_are_used(trials_from):
    spec = [(10, 20, "validation"), (30, 35, "test")]
    assert statistic_ranges(trials_from(spec), 50) == [(10, 20), (30, 35)]


def test_no_trial_ticks_is_a_session_error(trials_from):
    arrays = _arrays()
    with pytest.raises(SessionError, match="no trial covers"):
        compute_statistics(**arrays, trials=trials_from([]))


def _statistics(responses_std: list[float]) -> dict[str, np.ndarray]:
    return {
        "video_mean": np.array(80.0, np.float32),
        "video_std": np.array(57.0, np.float32),
        "responses_mean": np.zeros(len(responses_std), np.float32),
        "responses_std": np.array(responses_std, np.float32),
        "behavior_mean": np.array([3.0, 7.0], np.float32),
        "behavior_std": np.array([2.0, 0.0], np.float32),  # running speed constant: std 0
        "pupil_center_mean": np.array([1.0, -1.0], np.float32),
        "pupil_center_std": np.array([0.5, 0.0], np.float32),
    }


def test_normalisation_formulae_with_std_floor_and_zero_guard():
    normalizer = Normalizer.from_statistics(_statistics([1.0, 2.0, 0.001, 0.0]))
    floor = 0.01 * np.mean([1.0, 2.0, 0.001, 0.0])
    np.testing.assert_allclose(normalizer.responses_std, [1.0, 2.0, floor, floor], rtol=1e-6)

    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, (3, 36, 64), dtype=np.uint8)
    behavior = rng.normal(size=(5, 2)).astype(np.float32)
    pupil_center = rng.normal(size=(5, 2)).astype(np.float32)
    responses = rng.normal(size=(5, 4)).astype(np.float32)

    np.testing.assert_allclose(normalizer.video(video), (video - 80.0) / 57.0, rtol=1e-5)
    np.testing.assert_allclose(normalizer.behavior(behavior), behavior / [2.0, 1.0], rtol=1e-6)
    expected_pupil = (pupil_center - [1.0, -1.0]) / [0.5, 1.0]
    np.testing.assert_allclose(normalizer.pupil_center(pupil_center), expected_pupil, rtol=1e-5)
    precision = [1.0, 0.5, 1 / floor, 1 / floor]
    np.testing.assert_allclose(normalizer.responses(responses), responses * precision, rtol=1e-5)
    np.testing.assert_allclose(
        normalizer.responses_inverse(normalizer.responses(responses)), responses, rtol=1e-5
    )
    for output in (normalizer.video(video), normalizer.behavior(behavior), normalizer.responses(responses)):
        assert output.dtype == np.float32 and np.isfinite(output).all()


def test_silent_session_has_unit_precision():
    normalizer = Normalizer.from_statistics(_statistics([0.0, 0.0, 0.0]))
    np.testing.assert_array_equal(normalizer.responses_precision, [1.0, 1.0, 1.0])


def test_tensors_normalise_like_arrays():
    normalizer = Normalizer.from_statistics(_statistics([1.0, 2.0, 0.5]))
    responses = np.random.default_rng(1).normal(size=(2, 7, 3)).astype(np.float32)
    video = np.arange(2 * 36 * 64, dtype=np.uint8).reshape(2, 36, 64)
    as_tensor = normalizer.responses_inverse(torch.from_numpy(responses))
    assert isinstance(as_tensor, torch.Tensor) and as_tensor.dtype == torch.float32
    np.testing.assert_allclose(as_tensor.numpy(), normalizer.responses_inverse(responses), rtol=1e-6)
    np.testing.assert_allclose(normalizer.video(torch.from_numpy(video)).numpy(), normalizer.video(video))


def test_missing_statistic_is_a_session_error():
    statistics = _statistics([1.0])
    del statistics["pupil_center_std"]
    with pytest.raises(SessionError, match="pupil_center_std"):
        Normalizer.from_statistics(statistics)
