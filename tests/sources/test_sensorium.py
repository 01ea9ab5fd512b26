"""Sensorium 2023 folder -> NWB -> common dataset: lossless round trip, valid NWB, one-line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from nwb_v1former.cli.main import main
from nwbinspector import Importance, inspect_nwbfile, load_config
from pynwb import NWBHDF5IO, validate

from nwb_v1former.data.store import SessionStore
from nwb_v1former.nwb.convert import convert
from nwb_v1former.nwb.trials import canonical_tier
from nwb_v1former.simulate import layout_config, simulate
from nwb_v1former.simulate.writers.sensorium import sensorium_folder_name, write_sensorium
from nwb_v1former.sources.sensorium import GAP_FRAMES, convert_sensorium, depth_planes, position_masks


@pytest.fixture(scope="module")
def recording():
    return simulate(layout_config("sensorium", neurons=20, minutes=2.0, clip_seconds=3.0, seed=5))


@pytest.fixture(scope="module")
def mouse(recording, tmp_path_factory) -> Path:
    """A simulated Sensorium mouse folder with the test labels released."""
    return write_sensorium(recording, tmp_path_factory.mktemp("open") / sensorium_folder_name(recording))


@pytest.fixture(scope="module")
def hidden_mouse(recording, tmp_path_factory) -> Path:
    """The same mouse with test-tier responses hidden (all zeros), as for the competition's new mice."""
    root = tmp_path_factory.mktemp("hidden") / sensorium_folder_name(recording)
    return write_sensorium(recording, root, hidden_test=True)


@pytest.fixture(scope="module")
def converted(mouse, tmp_path_factory) -> tuple[Path, SessionStore]:
    out = tmp_path_factory.mktemp("nwb")
    nwb = convert_sensorium(mouse, out / "mouse.nwb", progress=False)
    session = convert([nwb], out / "store", progress=False)[0]
    return nwb, SessionStore(session.folder)


def nwb_trials(path: Path) -> dict[str, np.ndarray]:
    with NWBHDF5IO(path, "r") as io:
        trials = io.read().trials
        return {name: np.asarray(trials[name].data[:]) for name in trials.colnames}


def load(mouse: Path, kind: str, number: int) -> np.ndarray:
    return np.load(mouse / "data" / kind / f"{number}.npy")


def test_round_trip_reproduces_every_array(mouse, converted):
    nwb, store = converted
    trials = nwb_trials(nwb)
    unit_ids = np.load(mouse / "meta" / "neurons" / "unit_ids.npy")
    column = {int(roi): index for index, roi in enumerate(store.roi_ids)}
    columns = np.array([column[int(unit)] for unit in unit_ids])
    assert sorted(store.roi_ids) == sorted(unit_ids) and len(store.trials) == len(trials["trial_file_index"])
    for k, number in enumerate(trials["trial_file_index"]):
        ticks = slice(int(store.trials.first_tick[k]), int(store.trials.stop_tick[k]))
        valid = int(trials["valid_frames"][k])
        assert ticks.stop - ticks.start == valid
        assert np.isnan(load(mouse, "responses", number)[:, valid]).all()  # trimmed at the first NaN
        video = load(mouse, "videos", number)[:, :, :valid].transpose(2, 0, 1)
        np.testing.assert_array_equal(store.video[ticks], video.astype(np.uint8))
        np.testing.assert_allclose(
            store.responses[ticks][:, columns],
            load(mouse, "responses", number)[:, :valid].T,
            rtol=1e-6,
            atol=1e-6,
        )
        np.testing.assert_allclose(
            store.behavior[ticks], load(mouse, "behavior", number)[:, :valid].T, rtol=1e-6
        )
        np.testing.assert_allclose(
            store.pupil_center[ticks], load(mouse, "pupil_center", number)[:, :valid].T, rtol=1e-6
        )
    starts = store.trials.first_tick
    assert np.all(starts[1:] - store.trials.stop_tick[:-1] == GAP_FRAMES)  # documented gap, on the ticks


def test_trials_keep_order_tiers_and_repeats(mouse, recording, converted):
    nwb, store = converted
    trials = nwb_trials(nwb)
    tiers = np.load(mouse / "meta" / "trials" / "tiers.npy")
    trial_idx = np.load(mouse / "meta" / "trials" / "trial_idx.npy")
    assert np.array_equal(trials["trial_idx"], np.arange(len(tiers)))  # temporal order, not file order
    assert np.array_equal(trials["trial_idx"], trial_idx[trials["trial_file_index"]])
    assert list(trials["tier"]) == list(tiers[trials["trial_file_index"]])
    assert list(store.trials.tier) == [canonical_tier(t) for t in trials["tier"]]
    assert {"train", "validation", "test"} == set(store.trials.tier)
    assert trials["labelled"].all()
    clips = recording.schedule.clip_id  # the simulator's truth: which clip each (temporal) trial showed
    same_clip = clips[:, None] == clips[None, :]
    assert np.array_equal(trials["stimulus_id"][:, None] == trials["stimulus_id"][None, :], same_clip)
    assert list(store.trials.stimulus_id) == list(trials["stimulus_id"])


def test_unit_ids_and_coordinates_survive(mouse, converted):
    _, store = converted
    unit_ids = np.load(mouse / "meta" / "neurons" / "unit_ids.npy")
    coordinates = np.load(mouse / "meta" / "neurons" / "cell_motor_coordinates.npy")
    row = {int(unit): index for index, unit in enumerate(unit_ids)}
    rows = [row[int(roi)] for roi in store.roi_ids]
    np.testing.assert_array_equal(store.coordinates, coordinates[rows].astype(np.float32))
    assert store.meta["coordinate_unit"] == "micrometers"


def test_nwb_is_valid_for_dandi(converted):
    nwb, _ = converted
    assert list(validate(path=str(nwb))) == []
    serious = {Importance.CRITICAL, Importance.BEST_PRACTICE_VIOLATION, Importance.ERROR}
    findings = [
        f"{m.importance.name} {m.check_function_name} {m.location}: {m.message}"
        for m in inspect_nwbfile(nwbfile_path=nwb, config=load_config("dandi"))
        if m.importance in serious
    ]
    assert findings == []
    with NWBHDF5IO(nwb, "r") as io:
        nwbfile = io.read()
        video = nwbfile.stimulus["StimulusVideo"]
        assert video.neurodata_type == "OpticalSeries" and video.data.dtype == np.uint8
        assert video.data.chunks == (16, 36, 64)
        assert nwbfile.subject.subject_id == "90000" and nwbfile.session_id == "5-1"
        assert nwbfile.processing["behavior"]["EyeTracking"].neurodata_type == "EyeTracking"


def test_hidden_test_trials_are_unlabelled_not_silent(hidden_mouse, tmp_path):
    nwb = convert_sensorium(hidden_mouse, tmp_path / "hidden.nwb", progress=False)
    trials = nwb_trials(nwb)
    hidden = trials["tier"] == "final_test_main"
    assert hidden.any() and np.array_equal(~trials["labelled"], hidden)
    store = SessionStore(convert([nwb], tmp_path / "store", progress=False)[0].folder)
    assert set(store.trials.tier[hidden]) == {"none"} and set(store.trials.source_tier[hidden]) == {"none"}
    assert set(store.trials.tier[~hidden]) == {"train", "validation"}


def test_file_order_without_trial_idx(mouse, tmp_path):
    copy = shutil.copytree(mouse, tmp_path / mouse.name)
    (copy / "meta" / "trials" / "trial_idx.npy").unlink()
    trials = nwb_trials(convert_sensorium(copy, tmp_path / "m.nwb", progress=False))
    assert np.array_equal(trials["trial_file_index"], np.arange(len(trials["trial_file_index"])))
    assert "trial_idx" not in trials


def test_metadata_yaml_overrides_the_folder_name(mouse, tmp_path):
    metadata = tmp_path / "metadata.yaml"
    metadata.write_text(
        "NWBFile:\n  session_start_time: '2023-03-01T10:00:00+01:00'\n"
        "  institution: Baylor College of Medicine\nSubject:\n  sex: F\n  age: P12W\n"
    )
    out = tmp_path / "m.nwb"
    result = CliRunner().invoke(
        main, ["convert-sensorium", str(mouse), "--out", str(out), "--metadata", str(metadata), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    with NWBHDF5IO(out, "r") as io:
        nwbfile = io.read()
        assert nwbfile.session_start_time.isoformat() == "2023-03-01T10:00:00+01:00"
        assert nwbfile.institution == "Baylor College of Medicine"
        assert (nwbfile.subject.sex, nwbfile.subject.age) == ("F", "P12W")
        assert nwbfile.subject.subject_id == "90000"  # not overridden: still from the folder name


def _ragged_neurons(root: Path) -> Path:
    np.save(root / "data" / "responses" / "3.npy", load(root, "responses", 3)[:-1])
    return root / "data" / "responses" / "3.npy"


def _frame_size(root: Path) -> Path:
    np.save(root / "data" / "videos" / "2.npy", load(root, "videos", 2)[:, :-1])
    return root / "data" / "videos" / "2.npy"


def _tiers_length(root: Path) -> Path:
    path = root / "meta" / "trials" / "tiers.npy"
    np.save(path, np.load(path)[:-1])
    return path


def _unreadable(root: Path) -> Path:
    path = root / "data" / "behavior" / "4.npy"
    path.write_bytes(b"not a numpy file")
    return path


def _missing_folder(root: Path) -> Path:
    shutil.rmtree(root / "data" / "pupil_center")
    return root / "data" / "pupil_center"


def _missing_trial(root: Path) -> Path:
    (root / "data" / "videos" / "5.npy").unlink()
    return root / "data" / "videos" / "5.npy"


def _fractional_pixels(root: Path) -> Path:
    np.save(root / "data" / "videos" / "1.npy", load(root, "videos", 1) + 0.5)
    return root / "data" / "videos" / "1.npy"


@pytest.mark.parametrize(
    "damage",
    [
        _ragged_neurons,
        _frame_size,
        _tiers_length,
        _unreadable,
        _missing_folder,
        _missing_trial,
        _fractional_pixels,
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing(mouse, tmp_path, damage):
    copy = shutil.copytree(mouse, tmp_path / "in" / mouse.name)
    named = damage(copy)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["convert-sensorium", str(copy), "--out", str(out / "m.nwb"), "--quiet"]
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {named}"), result.output
    assert not out.exists() or list(out.iterdir()) == []


def test_missing_folder_and_bad_metadata(mouse, tmp_path):
    out = tmp_path / "m.nwb"
    result = CliRunner().invoke(main, ["convert-sensorium", str(tmp_path / "nope"), "--out", str(out)])
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        f"Error: {tmp_path / 'nope'}: no such folder; give one Sensorium 2023 mouse folder "
        "(with data/ and meta/)"
    ]
    metadata = tmp_path / "bad.yaml"
    metadata.write_text("Ophys:\n  Device: []\n")
    result = CliRunner().invoke(
        main, ["convert-sensorium", str(mouse), "--out", str(out), "--metadata", str(metadata)]
    )
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "unknown block(s) ['Ophys']" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_position_masks_put_each_roi_at_its_coordinates():
    xy = np.random.default_rng(0).uniform(-300, 300, size=(50, 2))
    xy[:10] = np.rint(xy[:10])  # integer positions: one pixel each
    origin = np.floor(xy.min(axis=0))
    pixels, index = position_masks(xy, origin)
    ends = np.asarray(index.data, np.int64)
    starts = np.concatenate([[0], ends[:-1]])
    assert np.all(ends[:10] - starts[:10] == 1)
    data = pixels.data
    for row, (a, b) in enumerate(zip(starts, ends, strict=True)):
        weight = data["weight"][a:b].astype(np.float64)
        centre = [(data[axis][a:b] * weight).sum() / weight.sum() for axis in ("x", "y")]
        np.testing.assert_allclose(origin + centre, xy[row], atol=1e-4)


def test_more_depths_than_fields_make_one_plane():
    coordinates = np.column_stack([np.zeros((100, 2)), np.arange(100)])
    assert [len(rows) for rows in depth_planes(coordinates)] == [100]
    assert [len(rows) for rows in depth_planes(coordinates // 25)] == [25, 25, 25, 25]
