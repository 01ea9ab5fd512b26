"""WindowDataset: which windows exist, what one item holds, and the errors a user meets."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from nwb_v1former.data import WindowDataset
from nwb_v1former.errors import ConfigError, SessionError

# trials of 10, 7, 12, 2 and 12 ticks; [10, 12) and [33, 40) belong to no trial
SPEC = [(0, 10, "train"), (12, 19, "train"), (19, 31, "validation"), (31, 33, "train"), (40, 52, "test")]


@pytest.fixture
def store(store_factory):
    return store_factory("mouse-a", SPEC, n_ticks=60, n_neurons=5, seed=2)


@pytest.mark.parametrize(
    ("tiers", "window", "stride", "starts"),
    [
        (("train",), 5, None, [0, 5, 12]),
        (("train",), 5, 2, [0, 2, 4, 12, 14]),
        (("train",), 7, 1, [0, 1, 2, 3, 12]),
        (("validation",), 5, None, [19, 24]),
        (("train", "validation"), 6, None, [0, 12, 19, 25]),
        (("test",), 12, 3, [40]),
    ],
)
def test_windows_start_at_each_trial_and_step_by_stride(store, tiers, window, stride, starts):
    dataset = WindowDataset(store, window=window, tiers=tiers, stride=stride)
    assert dataset.starts.tolist() == starts
    assert len(dataset) == len(starts)


@pytest.mark.parametrize(("window", "stride"), [(1, 1), (2, 3), (4, 1), (6, 4), (10, 1)])
def test_windows_never_cross_a_trial_boundary(store, window, stride):
    dataset = WindowDataset(store, window=window, tiers=("train", "validation", "test"), stride=stride)
    first, stop = store.trials.first_tick, store.trials.stop_tick
    for start in dataset.starts:
        inside = (first <= start) & (start + window <= stop)
        assert inside.sum() == 1, f"window [{start}, {start + window}) is not inside exactly one trial"
    expected = [
        start
        for trial_first, trial_stop in zip(first, stop, strict=True)
        for start in range(trial_first, trial_stop - window + 1, stride)
    ]
    assert dataset.starts.tolist() == expected


def test_item_holds_normalised_slices_of_the_store(store):
    dataset = WindowDataset(store, window=5, stride=2)
    item = dataset[3]
    ticks = slice(12, 17)
    statistics = store.statistics
    assert item["session"] == "mouse-a" and item["first_tick"] == 12
    shapes = {"video": (1, 5, 36, 64), "behavior": (2, 5), "pupil_center": (2, 5), "responses": (5, 5)}
    for name, shape in shapes.items():
        assert item[name].shape == shape and item[name].dtype == torch.float32, name

    video = (store.video[ticks].astype(np.float64) - statistics["video_mean"]) / statistics["video_std"]
    np.testing.assert_allclose(item["video"][0].numpy(), video, rtol=1e-5, atol=1e-5)
    behavior = store.behavior[ticks] / statistics["behavior_std"]
    np.testing.assert_allclose(item["behavior"].numpy(), behavior.T, rtol=1e-5)
    pupil = (store.pupil_center[ticks] - statistics["pupil_center_mean"]) / statistics["pupil_center_std"]
    np.testing.assert_allclose(item["pupil_center"].numpy(), pupil.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        item["responses"].numpy(), store.responses[ticks] / statistics["responses_std"], 1e-5
    )


def test_constant_running_speed_gives_finite_behavior(store_factory):
    behavior = np.column_stack([np.linspace(1, 2, 60), np.zeros(60)])  # a rig without a wheel
    store = store_factory("no-wheel", SPEC, n_ticks=60, n_neurons=3, arrays={"behavior": behavior})
    item = WindowDataset(store, window=5)[0]
    assert torch.isfinite(item["behavior"]).all()
    np.testing.assert_array_equal(item["behavior"][1].numpy(), 0.0)


def test_data_loader_batches_windows(store):
    batch = next(iter(DataLoader(WindowDataset(store, window=5, stride=2), batch_size=2)))
    assert batch["video"].shape == (2, 1, 5, 36, 64)
    assert batch["responses"].shape == (2, 5, 5)
    assert batch["first_tick"].tolist() == [0, 2] and batch["session"] == ["mouse-a", "mouse-a"]


def test_pickle_carries_the_folder_not_the_arrays(store):
    dataset = WindowDataset(store, window=5)
    blob = pickle.dumps(dataset)
    assert len(blob) < store.video.nbytes / 10
    copy = pickle.loads(blob)
    for name in ("video", "behavior", "pupil_center", "responses"):
        torch.testing.assert_close(copy[2][name], dataset[2][name])


def test_window_longer_than_every_trial_names_the_fix(store):
    with pytest.raises(SessionError, match=r"mouse-a: no train trial has 11 ticks \(longest: 10\)"):
        WindowDataset(store, window=11)


def test_tier_without_trials_names_the_tiers_present(store):
    with pytest.raises(SessionError, match=r"no none trial \(tiers present: test, train, validation\)"):
        WindowDataset(store, window=5, tiers=("none",))


@pytest.mark.parametrize("options", [{"tiers": ("training",)}, {"window": 0}, {"stride": 0}, {"tiers": ()}])
def test_bad_options_are_config_errors(store, options):
    with pytest.raises(ConfigError):
        WindowDataset(store, **{"window": 5, **options})
