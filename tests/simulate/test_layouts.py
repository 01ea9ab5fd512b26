"""Every layout is written, valid NWB (or a faithful Sensorium tree), and holds the simulated data."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import h5py
import numpy as np
import pytest
from nwb_checks import dataset_digests, serious_findings
from pynwb import NWBHDF5IO

from nwb_v1former.simulate import SimulationConfig, simulate
from nwb_v1former.simulate.write import LAYOUTS, layout_config, simulate_and_write

SMALL = {"neurons": 30, "minutes": 1.0, "clip_seconds": 2.0, "seed": 5}


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, Path]:
    """Each layout simulated once (two planes, so multi-plane writing is exercised)."""
    root = tmp_path_factory.mktemp("layouts")
    paths = {}
    for layout in LAYOUTS:
        sessions = simulate_and_write(root / layout, layout=layout, progress=False, planes=2, **SMALL)
        paths[layout] = sessions[0].data
    return paths


@pytest.fixture(scope="module")
def truth_recording():
    return {layout: simulate(layout_config(layout, planes=2, **SMALL)) for layout in LAYOUTS}


@pytest.mark.parametrize("layout", ["allen", "openscope", "microns"])
def test_nwb_layouts_validate_and_pass_nwbinspector(written, layout):
    assert serious_findings(written[layout]) == []


def _read(path: Path):
    io = NWBHDF5IO(str(path), "r")
    return io, io.read()


def test_allen_holds_the_simulated_data(written, truth_recording):
    recording = truth_recording["allen"]
    io, nwbfile = _read(written["allen"])
    with io:
        ophys = nwbfile.processing["ophys"]
        plane = recording.population.plane
        for index, name in enumerate(["DfOverF_plane1", "DfOverF_plane2"]):
            series = ophys["DfOverF"][name]
            np.testing.assert_array_equal(series.data[:], recording.measurement.measured[:, plane == index])
            np.testing.assert_array_equal(series.timestamps[:], recording.measurement.times)
            np.testing.assert_array_equal(
                series.rois.table.id[:], recording.population.roi_ids[plane == index]
            )
        presentations = nwbfile.stimulus["natural_movies_presentations"]
        template = presentations.indexed_images
        ticks = np.rint((presentations.timestamps[:] - recording.tick_times[0]) * 30).astype(int)
        frames = np.stack([template.order_of_images[int(i)].data[:] for i in presentations.data[:200]])
        np.testing.assert_array_equal(frames, recording.screen[ticks[:200]])
        trials = nwbfile.trials.to_dataframe()
        assert list(trials["tier"]) == list(recording.schedule.tier)
        running = nwbfile.processing["behavior"]["BehavioralTimeSeries"]["running_speed"]
        np.testing.assert_array_equal(running.data[:], recording.behavior.running_speed)
        assert running.starting_time == recording.tick_times[0] and running.rate == 30.0


def test_openscope_frames_and_masks(written, truth_recording):
    recording = truth_recording["openscope"]
    io, nwbfile = _read(written["openscope"])
    with io:
        table = nwbfile.intervals["natural_movies_presentations"]
        frame = table["frame"].data[:]
        start = table["start_time"].data[:]
        template = nwbfile.stimulus_template["natural_movies"].data
        ticks = np.rint((start - recording.tick_times[0]) * 30).astype(int)
        np.testing.assert_array_equal(
            template[np.unique(frame[:64])],
            recording.screen[ticks[:64]][np.unique(frame[:64], return_index=True)[1]],
        )
        cells = nwbfile.processing["ophys"]["image_segmentation"]["cell_specimen_table1"]
        masks = cells["image_mask"].data
        assert masks.ndim == 3
        # Mask centroids (pixels of 1.5 um, origin 10 um outside the cortex) land on the true positions.
        first = masks[0]
        rows, cols = np.nonzero(first)
        weights = first[rows, cols]
        centroid_um = (
            np.array([np.average(cols, weights=weights), np.average(rows, weights=weights)]) * 1.5 - 10.0
        )
        neuron = np.flatnonzero(recording.population.plane == 0)[0]
        assert np.abs(centroid_um - recording.population.position_um[neuron, :2]).max() < 1.5


def test_microns_movie_masks_and_treadmill(written, truth_recording):
    recording = truth_recording["microns"]
    io, nwbfile = _read(written["microns"])
    with io:
        movie = nwbfile.acquisition["stimulus_movie"]
        assert movie.data.shape == (2 * len(recording.screen), 72, 128)
        timestamps = movie.timestamps[:]
        assert np.all(np.diff(timestamps) > 0)
        assert np.abs(timestamps[::2] - recording.tick_times).max() < 0.002
        block = movie.data[100:104]
        np.testing.assert_array_equal(block[0, ::2, ::2], recording.screen[50])
        np.testing.assert_array_equal(block[1], block[0])
        series = nwbfile.processing["ophys"]["Fluorescence"]["RoiResponseSeries2"]
        assert series.rois.table.name == "PlaneSegmentation2"
        n_plane2 = int((recording.population.plane == 1).sum())
        assert series.data.shape == (len(recording.measurement.times), n_plane2)
        masks = series.rois.table["image_mask"].data
        assert masks.shape[1:] == (329, 209), (
            "MICrONS stores masks as (x, y): (800 + 2 * 10) um / 2.5 um wide"
        )
        treadmill = nwbfile.processing["behavior"]["BehavioralTimeSeries"]["treadmill_velocity"]
        assert treadmill.unit == "m/s" and treadmill.conversion == 0.01
        np.testing.assert_allclose(
            treadmill.data[:] * treadmill.conversion, recording.behavior.running_speed / 100
        )
        assert 5.5 < 1 / np.median(np.diff(series.timestamps[:])) < 7.0
        assert set(nwbfile.intervals) <= {"Clip", "Monet2", "Trippy"}


def test_sensorium_tree(written, truth_recording):
    recording = truth_recording["sensorium"]
    root = written["sensorium"]
    assert root.name.startswith("dynamic90000-") and "-Video-" in root.name
    tiers = np.load(root / "meta/trials/tiers.npy")
    order = np.load(root / "meta/trials/trial_idx.npy")
    assert len(tiers) == recording.schedule.n_trials
    assert set(tiers) == {"train", "oracle", "final_test_main"}
    for file_index in range(3):
        trial = order[file_index]
        video = np.load(root / f"data/videos/{file_index}.npy")
        responses = np.load(root / f"data/responses/{file_index}.npy")
        behavior = np.load(root / f"data/behavior/{file_index}.npy")
        valid = recording.config.clip_frames
        assert video.shape == (36, 64, valid + 24) and responses.shape == (30, valid + 24)
        assert np.isnan(responses[:, valid:]).all() and not np.isnan(responses[:, :valid]).any()
        ticks = slice(recording.schedule.start_tick[trial], recording.schedule.stop_tick[trial])
        np.testing.assert_array_equal(video[..., :valid], recording.screen[ticks].transpose(1, 2, 0))
        np.testing.assert_array_equal(responses[:, :valid], recording.measurement.measured[ticks].T)
        np.testing.assert_array_equal(behavior[1, :valid], recording.behavior.running_speed[ticks])
        assert tiers[file_index] == recording.schedule.tier[trial]
    np.testing.assert_array_equal(np.load(root / "meta/neurons/unit_ids.npy"), recording.population.roi_ids)
    assert np.load(root / "meta/neurons/cell_motor_coordinates.npy").dtype.kind == "i"
    assert np.load(root / "meta/statistics/responses/all/std.npy").shape == (30,)
    assert np.load(root / "meta/statistics/videos/all/mean.npy").shape == ()


def test_sensorium_hidden_test_tier_is_zeros(tmp_path):
    from nwb_v1former.simulate.writers.sensorium import write_sensorium

    recording = simulate(layout_config("sensorium", **SMALL))
    root = write_sensorium(recording, tmp_path / "mouse", hidden_test=True)
    tiers = np.load(root / "meta/trials/tiers.npy")
    for index, tier in enumerate(tiers):
        responses = np.load(root / f"data/responses/{index}.npy")[:, : recording.config.clip_frames]
        assert (responses == 0).all() == (tier == "final_test_main")


@pytest.mark.parametrize("layout", [pytest.param("allen", marks=pytest.mark.slow), "microns"])  # allen: 13 s
def test_same_seed_same_bytes_of_data(tmp_path, written, layout):
    again = simulate_and_write(tmp_path / "again", layout=layout, progress=False, planes=2, **SMALL)[0].data
    assert dataset_digests(again) == dataset_digests(written[layout])
    with h5py.File(again, "r") as one, h5py.File(written[layout], "r") as two:  # as the README says
        assert one.attrs["object_id"] != two.attrs["object_id"], "object ids are unique at each write"
    other = simulate_and_write(
        tmp_path / "other", layout=layout, progress=False, planes=2, **{**SMALL, "seed": 6}
    )
    assert dataset_digests(other[0].data) != dataset_digests(written[layout])


def test_truth_file_and_manifest(written):
    import json

    from nwb_v1former.simulate import load_truth

    folder = written["allen"].parent
    manifest = json.loads((folder / "simulation.json").read_text())
    session = manifest["sessions"][0]
    assert session["data"] == "sim-000.nwb" and SimulationConfig.from_dict(session["config"]).neurons == 30
    truth = load_truth(folder / session["truth"])
    assert truth["noise_ceiling"].shape == (30,) and truth["screen"].dtype == np.uint8
    assert truth["rf_center"].shape == (30, 2) and truth["expected"].shape[1] == 30
    # The surround and the session's normalisation: what showing the same animal new stimuli needs.
    for name in ("surround_strength", "surround_sigma_px", "drive_scale", "half_saturation"):
        assert truth[name].shape == (30,) and np.all(truth[name] > 0), name
    assert truth["pupil_std"].shape == () and truth["surround_reference"].shape == (30,)
    assert dataclasses.is_dataclass(SimulationConfig)
