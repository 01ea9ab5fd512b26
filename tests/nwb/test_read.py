"""The reader against ground truth (simulated layouts), real files, and every kind of bad input."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from nwb_builders import write_session
from nwb_v1former.cli.main import main

from nwb_v1former.data.store import SessionStore
from nwb_v1former.metrics import correlation_per_neuron
from nwb_v1former.nwb.convert import convert
from nwb_v1former.nwb.discover import open_nwb
from nwb_v1former.nwb.rois import ResponsePlane, choose_planes
from nwb_v1former.nwb.timing import scale
from nwb_v1former.simulate import load_truth, simulate_and_write

SIM = {"neurons": 30, "minutes": 1.5, "clip_seconds": 3.0, "planes": 2, "seed": 4}


@pytest.fixture(scope="module", params=["allen", "openscope", "microns"])
def converted(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    session = simulate_and_write(root / "sim", layout=request.param, progress=False, **SIM)[0]
    store = SessionStore(convert([session.data], root / "store", progress=False)[0].folder)
    return request.param, store, load_truth(session.truth)


def _ticks(store, truth) -> np.ndarray:
    """Index of each store tick on the simulator's tick axis (the grids must coincide)."""
    tick = np.rint((np.asarray(store.times) - truth["tick_times"][0]) * 30).astype(int)
    assert np.abs(store.times - truth["tick_times"][tick]).max() < 2e-3
    return tick


def test_video_is_exactly_the_screen_at_every_tick(converted):
    _, store, truth = converted
    assert np.array_equal(store.video, truth["screen"][_ticks(store, truth)])


def test_rois_ids_and_centroids(converted):
    _, store, truth = converted
    order = np.argsort(truth["roi_ids"])
    index = order[np.searchsorted(truth["roi_ids"][order], store.roi_ids)]
    np.testing.assert_array_equal(truth["roi_ids"][index], store.roi_ids)
    assert len(store.roi_ids) == SIM["neurons"]
    # Centroids of the masks, in micrometres through grid spacing and origin, within a tenth of a micron.
    assert np.abs(store.coordinates[:, :2] - truth["position_um"][index, :2]).max() < 0.15
    assert set(np.unique(store.coordinates[:, 2])) == {200.0, 400.0}


def test_responses_keep_all_signal_through_resampling(converted):
    """Documented tolerance: resampled responses correlate with the true expected response on the
    30 Hz grid at least as well as the raw measurements do at their own times, minus 0.02."""
    _, store, truth = converted
    tick = _ticks(store, truth)
    order = np.argsort(truth["roi_ids"])
    index = order[np.searchsorted(truth["roi_ids"][order], store.roi_ids)]
    expected = truth["expected_ticks"][tick][:, index]
    achieved = correlation_per_neuron(np.asarray(store.responses), expected)
    assert achieved.mean() > truth["realised_ceiling"][index].mean() - 0.02


def test_behaviour_on_the_grid(converted):
    _, store, truth = converted
    tick = _ticks(store, truth)
    np.testing.assert_allclose(store.behavior[:, 1], truth["running_speed"][tick], atol=0.05)  # cm/s
    np.testing.assert_allclose(store.pupil_center, truth["pupil_center"][tick], atol=0.05)
    assert np.corrcoef(store.behavior[:, 0], truth["pupil_diameter"][tick])[0, 1] > 0.99
    assert store.meta["behavior"]["filled_with_neutral_value"] == []


def test_trials_and_tiers(converted):
    layout, store, truth = converted
    assert len(store.trials) == len(truth["trial_tier"])
    tick = _ticks(store, truth)
    np.testing.assert_array_equal(tick[store.trials.first_tick], truth["trial_start_tick"])
    ids, tiers = store.trials.stimulus_id, store.trials.tier
    for stimulus in set(ids):
        same = ids == stimulus
        assert len(set(tiers[same])) == 1, "a clip that repeats must sit wholly in one tier"
        if same.sum() > 1:
            assert tiers[same][0] in ("validation", "test")
    # Repeats are recognised by content: as many distinct ids as the simulator had clips.
    assert len(set(ids)) == len(set(truth["trial_clip_id"]))
    if layout == "allen":  # the only layout with a tier column
        assert store.meta["tiers"] == "from the file's tier column"
        canonical = {"train": "train", "oracle": "validation", "final_test_main": "test"}
        assert list(tiers) == [canonical[t] for t in truth["trial_tier"]]
    assert np.all(store.statistics["responses_std"] > 0)
    meta = json.loads((store.folder / "meta.json").read_text())
    assert meta["code_version"] and meta["source"]["path"].endswith(".nwb") and meta["transforms"]


def _chosen(path, responses=None) -> tuple[ResponsePlane, np.ndarray]:
    """The first plane the reader chooses in `path`, and its raw data (frames, ROIs) in the series' unit."""
    with open_nwb(path) as nwbfile:
        plane, *_ = choose_planes(nwbfile, responses, str(path))
        conversion, offset = scale(plane.series)
        return plane, plane.frames(0, plane.n_frames) * conversion + offset


def test_suite2p_file_responses_are_exactly_its_npy(real_nwb):
    plane, data = _chosen(real_nwb / "neuroconv_nwb_test.nwb")
    assert plane.path == "/processing/ophys/Fluorescence/RoiResponseSeries"
    np.testing.assert_array_equal(data, np.load(real_nwb / "neuroconv_suite2p-plane0_F.npy").T)
    np.testing.assert_array_equal(plane.roi_ids, np.arange(15))
    _, values = _chosen(real_nwb / "neuroconv_nwb_test.nwb", responses="Neuropil")
    np.testing.assert_array_equal(values, np.load(real_nwb / "neuroconv_suite2p-plane0_Fneu.npy").T)


def test_legacy_index_series_into_an_image_series_template(tmp_path):
    frames = np.random.default_rng(5).integers(0, 255, (600, 72, 128), dtype=np.uint8)
    path = write_session(tmp_path / "allen.nwb", frames=frames, movie_as="legacy_index")
    store = SessionStore(convert([path], tmp_path / "out", progress=False)[0].folder)
    expected = frames.reshape(600, 36, 2, 64, 2).astype(np.float64).mean(axis=(2, 4))
    np.testing.assert_array_equal(store.video, np.rint(expected).astype(np.uint8)[: store.n_ticks])
    assert any("area-average resize 72x128" in t for t in store.meta["transforms"])


def test_index_series_into_images_and_missing_behaviour(tmp_path):
    frames = np.random.default_rng(1).integers(0, 255, (600, 36, 64), dtype=np.uint8)
    path = write_session(tmp_path / "s.nwb", frames=frames, movie_as="index", running=False)
    store = SessionStore(convert([path], tmp_path / "out", progress=False)[0].folder)
    np.testing.assert_array_equal(store.video, frames[: store.n_ticks])
    assert store.meta["behavior"]["filled_with_neutral_value"] == ["pupil_size", "running", "pupil_center"]
    assert np.all(store.behavior == 0.0)


# ---- bad input: one clear line naming the file, exit 1, nothing written -------------------------------


def _convert(*args):
    return CliRunner().invoke(main, ["convert", *map(str, args), "--quiet"])


def _one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _bad(tmp_path, name: str, **kwargs):
    path = write_session(tmp_path / f"{name}.nwb", **kwargs)
    out = tmp_path / "out"
    return path, out, _convert(path, "--out", out)


def test_not_hdf5_truncated_and_nwb1(tmp_path):
    text = tmp_path / "notes.nwb"
    text.write_text("hello")
    out = tmp_path / "out"
    _one_line_error(_convert(text, "--out", out), "notes.nwb", "not a readable HDF5 file")
    good = write_session(tmp_path / "good.nwb")
    truncated = tmp_path / "truncated.nwb"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    _one_line_error(_convert(truncated, "--out", out), "truncated.nwb")
    old = tmp_path / "old.nwb"
    with h5py.File(old, "w") as handle:
        handle.create_dataset("nwb_version", data="NWB-1.0.5")
    _one_line_error(_convert(old, "--out", out), "old.nwb", "NWB 1.x", "convert it to NWB 2")
    assert not out.exists()


def test_real_nwb1_and_real_files_without_stimulus_or_responses(real_nwb, tmp_path):
    out = tmp_path / "out"
    _one_line_error(_convert(real_nwb / "pynwb_496908818s.nwb", "--out", out), "NWB 1.x")
    _one_line_error(_convert(real_nwb / "neuroconv_nwb_test.nwb", "--out", out), "no stimulus movie")
    _one_line_error(
        _convert(real_nwb / "ideas-toolbox-suite2p_dandi_compliant_movie.nwb", "--out", out),
        "no ROI responses",
    )
    assert not out.exists()


def test_no_responses_and_no_stimulus(tmp_path):
    _, out, result = _bad(tmp_path, "blind", with_stimulus=False)
    _one_line_error(result, "blind.nwb", "no stimulus movie")
    _, out, result = _bad(tmp_path, "silent", with_responses=False)
    _one_line_error(result, "silent.nwb", "no ROI responses")
    assert not out.exists()


def test_no_overlap_in_time(tmp_path):
    _, out, result = _bad(tmp_path, "apart", frame_times=1000 + np.arange(600) / 30.0)
    _one_line_error(result, "apart.nwb", "do not overlap in time")
    assert not out.exists()


def test_non_monotonic_timestamps(tmp_path):
    times = np.arange(600) / 30.0
    times[300] = times[100]
    _, out, result = _bad(tmp_path, "shuffled", response_times=times)
    _one_line_error(result, "shuffled.nwb", "not increasing at sample 300")
    assert not out.exists()


def test_nan_frames_are_dropped_and_counted_or_refused(tmp_path):
    responses = np.random.default_rng(2).random((600, 6)).astype(np.float32)
    responses[[10, 11, 400]] = np.nan
    path = write_session(tmp_path / "gappy.nwb", responses=responses)
    store = SessionStore(convert([path], tmp_path / "ok", progress=False)[0].folder)
    assert store.meta["dropped_response_frames"] == {"/processing/ophys/DfOverF/dff": 3}
    assert np.isfinite(store.responses).all()
    np.testing.assert_allclose(
        store.responses[10], responses[9] + (responses[12] - responses[9]) / 3, rtol=1e-5
    )
    responses[:100] = np.nan
    _, out, result = _bad(tmp_path, "holey", responses=responses)
    _one_line_error(result, "holey.nwb", "NaN in 16.8% of its frames", "--max-nan-fraction")
    assert not out.exists()


def test_roi_table_and_columns_disagree(tmp_path):
    _, out, result = _bad(tmp_path, "mismatch", rois_in_region=4)
    _one_line_error(result, "mismatch.nwb", "6 columns but its ROI region lists 4 ROIs")
    assert not out.exists()


def test_existing_output_is_refused_unless_overwrite(tmp_path):
    path = write_session(tmp_path / "s.nwb")
    out = tmp_path / "out"
    out.mkdir()
    _one_line_error(_convert(path, "--out", out), "already exists", "--overwrite")
    result = _convert(path, "--out", out, "--overwrite", "--json")
    assert result.exit_code == 0 and json.loads(result.output)["sessions"][0]["neurons"] == 6


def test_unknown_responses_name_lists_the_choices(tmp_path):
    path = write_session(tmp_path / "s.nwb")
    result = CliRunner().invoke(
        main, ["convert", str(path), "--out", str(tmp_path / "o"), "--responses", "F"]
    )
    _one_line_error(result, "no response series named 'F'", "/processing/ophys/DfOverF/dff")


def test_converted_store_feeds_training_windows(converted):
    from nwb_v1former.data import WindowDataset

    _, store, _ = converted
    windows = WindowDataset(store, window=60, tiers=("train",))
    item = windows[len(windows) - 1]
    assert item["video"].shape == (1, 60, 36, 64) and item["responses"].shape == (60, SIM["neurons"])
    trial = np.searchsorted(store.trials.first_tick, item["first_tick"], side="right") - 1
    assert item["first_tick"] + 60 <= store.trials.stop_tick[trial], "windows stay inside one trial"
    assert abs(float(item["video"].mean())) < 1.5, "video is normalised with the training statistics"
