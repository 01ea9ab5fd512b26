"""#19 point 7: edge inputs are refused in one line or repaired with a note in meta.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from nwb_builders import write_session

from hostile.checks import assert_refused, assert_succeeded, cli, partials, snapshot
from hostile.mutations import RESPONSES, ROI_TABLE, RUNNING, mutated, replace_dataset


def _store(out: Path) -> Path:
    (folder,) = [path.parent for path in out.glob("*/meta.json")]
    return folder


def test_zero_rois_are_refused_at_convert(session, tmp_path: Path) -> None:
    def no_rois(handle) -> None:
        frames = handle[f"{RESPONSES}/data"].shape[0]
        replace_dataset(handle, f"{RESPONSES}/data", np.zeros((frames, 0), np.float32))
        replace_dataset(handle, f"{RESPONSES}/rois", np.zeros(0, np.int64))
        replace_dataset(handle, f"{ROI_TABLE}/id", np.zeros(0, np.int64))
        replace_dataset(handle, f"{ROI_TABLE}/image_mask", np.zeros((0, 8, 8), np.float32))

    nwb = mutated(session.nwb, tmp_path / "in" / "no-rois.nwb", no_rois)
    before = snapshot(nwb)
    assert_refused(cli("convert", nwb, "--out", tmp_path / "store"), str(nwb), "has no ROIs")
    assert not (tmp_path / "store").exists() and snapshot(nwb) == before and not partials(tmp_path)


def test_an_all_nan_column_is_named_and_max_nan_fraction_1_keeps_it_as_zeros(session, tmp_path: Path) -> None:
    def dead_roi(handle) -> None:
        handle[f"{RESPONSES}/data"][:, 5] = np.nan

    nwb = mutated(session.nwb, tmp_path / "in" / "dead-roi.nwb", dead_roi)
    dead_id = int(np.load(session.store / "roi_ids.npy")[5])
    before = snapshot(nwb)
    line = assert_refused(
        cli("convert", nwb, "--out", tmp_path / "store"), f"ROI {dead_id} is NaN in every frame"
    )
    assert "--max-nan-fraction 1" in line
    assert_succeeded(cli("convert", nwb, "--out", tmp_path / "store", "--max-nan-fraction", "1", "--quiet"))
    folder = _store(tmp_path / "store")
    responses = np.load(folder / "responses.npy")
    expected = np.load(session.store / "responses.npy")
    assert (responses[:, 5] == 0).all()
    np.testing.assert_array_equal(np.delete(responses, 5, axis=1), np.delete(expected, 5, axis=1))
    notes = json.loads((folder / "meta.json").read_text())["notes"]
    assert any(f"ROI {dead_id} NaN in every frame, set to 0" in note for note in notes), notes
    assert snapshot(nwb) == before and not partials(tmp_path)


def test_nan_pixels_of_a_float_movie_become_grey_and_are_counted(tmp_path: Path) -> None:
    frames = np.random.default_rng(1).random((600, 36, 64)).astype(np.float32)
    frames[100:110, 10:20, 30:40] = np.nan
    nwb = write_session(tmp_path / "nan-pixels.nwb", frames=frames)
    assert_succeeded(cli("convert", nwb, "--out", tmp_path / "store", "--quiet"))
    folder = _store(tmp_path / "store")
    video = np.load(folder / "video.npy")
    times = np.load(folder / "times.npy")
    tick = int(np.argmin(np.abs(times - 105 / 30)))
    assert (video[tick, 10:20, 30:40] == 128).all()
    expected = np.clip(np.rint(frames[105] * 255), 0, 255)
    np.testing.assert_array_equal(video[tick, :10], expected[:10])
    transforms = json.loads((folder / "meta.json").read_text())["transforms"]
    assert any("1000 NaN or infinite pixels in 10 frames set to grey (128)" in t for t in transforms), (
        transforms
    )


def test_behaviour_recorded_for_part_of_the_session_is_not_held_silently(session, tmp_path: Path) -> None:
    def late_start(handle) -> None:
        handle[f"{RUNNING}/starting_time"][()] = 40.0

    nwb = mutated(session.nwb, tmp_path / "in" / "late-running.nwb", late_start)
    assert_succeeded(cli("convert", nwb, "--out", tmp_path / "store", "--quiet"))
    folder = _store(tmp_path / "store")
    running = np.load(folder / "behavior.npy")[:, 1]
    times = np.load(folder / "times.npy")
    before_start = running[times < 39.0]
    assert len(before_start) > 30 * 30 and np.ptp(before_start) == 0
    notes = json.loads((folder / "meta.json").read_text())["notes"]
    note = next(note for note in notes if RUNNING in note)
    assert "recorded 40.0-" in note and "set to its median" in note


def test_duplicate_roi_ids_are_refused(session, tmp_path: Path) -> None:
    def duplicate(handle) -> None:
        ids = handle[f"{ROI_TABLE}/id"]
        ids[4] = ids[3]

    nwb = mutated(session.nwb, tmp_path / "in" / "duplicate-ids.nwb", duplicate)
    repeated = int(np.load(session.store / "roi_ids.npy")[3])
    before = snapshot(nwb)
    assert_refused(cli("convert", nwb, "--out", tmp_path / "store"), f"ROI id {repeated} appears 2 times")
    assert not (tmp_path / "store").exists() and snapshot(nwb) == before


@pytest.mark.parametrize("device", ["tpu9", "cuda:7", "cuda"])
def test_a_device_this_machine_lacks_is_one_line(session, tmp_path: Path, device: str) -> None:
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU: --device cuda is valid here")
    out = tmp_path / "out.nwb"
    result = cli("predict", session.checkpoint, session.nwb, "--out", out, "--device", device, "--quiet")
    assert_refused(result, f"--device {device}", "cpu")
    assert not out.exists() and not partials(tmp_path)
