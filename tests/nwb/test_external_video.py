"""Stimulus movies in external video files, as neuroconv writes them and `dandi organize` moves them:
the frame on screen at every tick across several files, colour as the in-file path converts it, a
camera's video never opened, and one line for a missing, damaged or miscounted video."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from archive_layouts import GREY, _write, add_dff, imaging_clock, new_file
from click.testing import CliRunner
from external_video_layouts import (
    RATE,
    external_session,
    move_session,
    organize,
    uniform_video,
    write_video,
)
from nwb_v1former.cli.main import main
from pynwb.image import ImageSeries

from nwb_v1former.data.store import SessionStore
from nwb_v1former.nwb.convert import convert

TWO_FILES = [np.arange(1, 61), np.arange(61, 91)]
"""The stimulus: 60 then 30 frames, each with its own value (never grey's 128)."""


def _convert(path, out) -> SessionStore:
    return SessionStore(convert([path], out, progress=False)[0].folder)


def _shown(store: SessionStore, tolerance: int = 0) -> np.ndarray:
    """The value of the uniform frame on screen at each tick of the store."""
    video = np.asarray(store.video).astype(int)
    assert (np.abs(video - video[:, :1, :1]) <= tolerance).all()  # one whole frame per tick, no blend
    return video[:, 0, 0]


def _cli(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def organized(tmp_path_factory):
    """A neuroconv session with its stimulus in two files (a 1 s gap between them, so timestamps) and an
    eye camera, organized as `dandi organize` does; the camera's video is then deleted: it must never be
    needed."""
    root = tmp_path_factory.mktemp("external")
    nwb, screen = external_session(root / "lab", TWO_FILES, gap_s=1.0)
    path = organize(nwb, root / "dandiset")
    stimulus = _stimulus_files(path)
    for video in path.with_suffix("").iterdir():
        if video not in stimulus:
            video.unlink()
    return path, screen


def _stimulus_files(path):
    """The organized stimulus videos of `path`, in external_file order."""
    import h5py

    with h5py.File(path, "r") as handle:
        written = [name.decode() for name in handle["acquisition/StimulusMovie/external_file"][()]]
    return [path.parent / name for name in written]


def test_every_tick_shows_the_frame_on_screen_across_both_files(organized, tmp_path):
    path, screen = organized
    assert sorted(path.with_suffix("").iterdir()) == sorted(_stimulus_files(path))  # no camera video
    store = _convert(path, tmp_path / "store")
    assert store.meta["stimulus"] == ["/acquisition/StimulusMovie"]
    truth = screen.at(np.asarray(store.times))
    assert np.array_equal(_shown(store), truth)
    assert set(truth) == set(range(1, 91)) | {GREY}  # every frame of both files, and the grey gap
    assert any("EyeCamera" in note and "camera" in note for note in store.meta["notes"])


def test_inspect_lists_the_external_movie_with_its_files(organized):
    path, _ = organized
    code, output = _cli("inspect", path, "--json")
    assert code == 0, output
    (report,) = json.loads(output)
    (stimulus,) = [s for s in report["stimuli"] if s["path"] == "/acquisition/StimulusMovie"]
    assert stimulus["shape"] == [90] and stimulus["target"].endswith("external_file_1.avi")
    assert not any("no stimulus movie" in problem for problem in report["problems"])
    assert report["will_use"]["stimulus"] == ["/acquisition/StimulusMovie"]


def test_a_regular_h264_movie_with_b_frames_is_frame_exact(tmp_path):
    values = np.arange(4, 244, 8)  # 8 apart (never 128): a frame off by one is 8 off, the codec errs by 2
    nwb, screen = external_session(tmp_path / "lab", [values], camera=False, suffix=".mp4")
    store = _convert(nwb, tmp_path / "store")
    truth = screen.at(np.asarray(store.times))
    assert np.abs(_shown(store, tolerance=2) - truth).max() <= 2
    assert set(truth) - {GREY} == set(values.tolist())


def test_colour_frames_convert_exactly_as_the_same_frames_stored_in_the_file(tmp_path):
    frames = np.random.default_rng(3).integers(0, 256, (45, 90, 160, 3), dtype=np.uint8)  # 16:9, resized
    nwb, _ = external_session(tmp_path / "external", [np.arange(45)], camera=False, video=[frames])
    inside = new_file("lab-inside")
    inside.add_acquisition(
        ImageSeries(name="StimulusMovie", data=frames, unit="n.a.", starting_time=1.0, rate=RATE)
    )
    add_dff(inside, imaging_clock(3.5))
    external = _convert(nwb, tmp_path / "a")
    internal = _convert(_write(inside, tmp_path / "inside.nwb"), tmp_path / "b")
    assert np.array_equal(np.asarray(external.times), np.asarray(internal.times))
    assert np.array_equal(np.asarray(external.video), np.asarray(internal.video))
    assert "/acquisition/StimulusMovie: colour to grayscale (ITU-R 601 luma)" in external.meta["transforms"]


def test_a_missing_video_is_one_line_naming_it(organized, tmp_path):
    path, _ = organized
    moved = move_session(_copy(path, tmp_path / "copy"), tmp_path / "elsewhere")  # the .nwb without videos
    code, output = _cli("convert", moved, "--out", tmp_path / "out")
    assert code == 1 and output.startswith("Error:") and len(output.strip().splitlines()) == 1
    assert "external_file_0.avi" in output and "missing" in output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("which", "frames", "message"),
    [
        ("last", 20, "clock counts 90 frames but its video files hold 80"),
        ("first", 50, "starting_frame [0, 60] does not match"),
        ("last", None, "not a video that can be decoded (Invalid data found"),
    ],
)
def test_a_video_that_is_not_the_one_written_is_one_line(organized, tmp_path, which, frames, message):
    path, _ = organized
    copy = _copy(path, tmp_path / "copy")
    video = _stimulus_files(copy)[0 if which == "first" else -1]
    if frames is None:
        video.write_bytes(b"\x00" * 4096)  # damaged
    else:
        write_video(video, uniform_video(np.arange(1, frames + 1)))
    code, output = _cli("convert", copy, "--out", tmp_path / "out")
    assert code == 1 and output.startswith("Error:") and len(output.strip().splitlines()) == 1
    assert message in output, output
    assert not (tmp_path / "out").exists()


def _copy(path, to):
    """The organized NWB file and its videos' folder copied to `to` (tests change the copy)."""
    shutil.copytree(path.with_suffix(""), to / path.with_suffix("").name)
    return Path(shutil.copy(path, to / path.name))
