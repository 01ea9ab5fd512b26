"""`simulate --present`: an exported stimulus set shown to the same simulated animal, read back like any
session; each neuron responds to its own optimal stimulus as its truth says."""

from __future__ import annotations

import av
import numpy as np
import pytest
from click.testing import CliRunner
from nwb_v1former.cli.main import main
from pynwb import NWBHDF5IO

from nwb_v1former.data.store import SessionStore
from nwb_v1former.nwb.convert import convert
from nwb_v1former.nwb.screen_video import write_screen_video
from nwb_v1former.nwb.stimulus_set import ScheduleConfig, StimulusSet, read_stimulus_set, write_stimulus_set
from nwb_v1former.simulate import load_truth, simulate_and_write
from nwb_v1former.simulate.population import gabor_filters
from nwb_v1former.simulate.recording import animal_population
from nwb_v1former.simulate.stimuli import GREY

HOLD = 20


@pytest.fixture(scope="module")
def animal(tmp_path_factory):
    """A simulated session (allen), its config and truth."""
    root = tmp_path_factory.mktemp("present")
    session = simulate_and_write(
        root / "sims", neurons=40, minutes=1.5, clip_seconds=3.0, seed=5, progress=False
    )[0]
    return session, load_truth(session.truth)


def _gabor_set(session, targets: np.ndarray) -> StimulusSet:
    """Each target's own Gabor filter as an image held for HOLD ticks: its optimal stimulus."""
    filters = gabor_filters(animal_population(session.config))[:, targets].T.reshape(-1, 36, 64)
    images = np.clip(np.rint(GREY + 120 * filters / np.abs(filters).max(axis=(1, 2), keepdims=True)), 0, 255)
    frames = [np.repeat(image[None].astype(np.uint8), HOLD, axis=0) for image in images]
    names = [f"gabor_roi{roi}" for roi in session_roi_ids(session)[targets]]
    roles = ["gabor"] * len(names)
    provenance = {"checkpoint_sha256": "0" * 64, "session": "x"}
    return StimulusSet(names, frames, session_roi_ids(session)[targets], roles, provenance)


def session_roi_ids(session) -> np.ndarray:
    return animal_population(session.config).roi_ids


def test_a_set_round_trips_through_its_nwb_file(animal, tmp_path):
    session, _ = animal
    stimuli = _gabor_set(session, np.array([0, 1, 2]))
    config = ScheduleConfig(repeats=3, gap_s=0.5, frame_rate=60.0, screen=(72, 128), seed=1)
    schedule = write_stimulus_set(stimuli, config, tmp_path / "set.nwb")
    back, presentations = read_stimulus_set(tmp_path / "set.nwb")
    assert back.names == stimuli.names and back.target_roi.tolist() == stimuli.target_roi.tolist()
    assert back.roles == stimuli.roles
    assert all(np.array_equal(a, b) for a, b in zip(back.frames, stimuli.frames, strict=True))
    assert np.array_equal(presentations.stimulus, schedule.stimulus)
    # Each block shows every stimulus once, the blocks in different orders, with grey gaps between.
    blocks = schedule.stimulus.reshape(3, 3)
    assert all(sorted(block) == [0, 1, 2] for block in blocks) and len({tuple(b) for b in blocks}) > 1
    assert np.all(presentations.start_s[1:] - presentations.stop_s[:-1] >= 0.5 - 1e-9)
    assert back.provenance["checkpoint_sha256"] == "0" * 64


def test_the_video_shows_what_the_nwb_schedule_shows_refresh_by_refresh(animal, tmp_path):
    """The .mp4 decodes, refresh by refresh, to the template image the NWB IndexSeries names at that
    refresh's time (read with pynwb), and to grey where no presentation runs."""
    session, _ = animal
    stimuli = _gabor_set(session, np.array([0, 1]))
    drifting = np.stack([np.roll(stimuli.frames[0][0], 3 * tick, axis=1) for tick in range(HOLD)])
    stimuli = StimulusSet(
        [*stimuli.names, "drift"],
        [*stimuli.frames, drifting],
        np.r_[stimuli.target_roi, -1],
        [*stimuli.roles, "gabor"],
        stimuli.provenance,
    )
    config = ScheduleConfig(repeats=2, gap_s=0.5, frame_rate=60.0, screen=(72, 128), seed=3)
    schedule = write_stimulus_set(stimuli, config, tmp_path / "set.nwb")
    refreshes = write_screen_video(stimuli, schedule, config, 127, tmp_path / "set.mp4")
    with av.open(str(tmp_path / "set.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.average_rate, stream.width, stream.height) == (60, 128, 72)
        video = np.stack([picture.to_ndarray(format="gray") for picture in container.decode(video=0)])
    assert video.shape == (refreshes, 72, 128) and refreshes == round(schedule.stop_s[-1] * 60)
    with NWBHDF5IO(tmp_path / "set.nwb", "r") as io:
        nwbfile = io.read()
        shown = nwbfile.stimulus["designed_stimuli_shown"]
        index, times = np.asarray(shown.data), np.asarray(shown.timestamps)
        images = [np.asarray(image.data) for image in shown.indexed_images.order_of_images.data]
    expected = np.full_like(video, 127)
    for image, time in zip(index, times, strict=True):
        expected[round(time * 60)] = images[image]
    assert np.array_equal(video, expected)
    assert len(np.unique(index)) > HOLD  # the drifting stimulus changes every tick, and so does the video


def test_the_same_animal_sees_the_set_and_the_session_reads_back(animal, tmp_path):
    session, truth = animal
    targets = np.argsort(-truth["amplitude"])[:3]
    stimuli = _gabor_set(session, targets)
    write_stimulus_set(
        stimuli, ScheduleConfig(repeats=4, gap_s=1.0, screen=(36, 64), seed=0), tmp_path / "set.nwb"
    )
    out = tmp_path / "presented"
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "--present",
            str(tmp_path / "set.nwb"),
            "--animal",
            str(session.data),
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    presented = load_truth(out / "sim-000-present-set.truth.npz")
    assert np.array_equal(presented["roi_ids"], truth["roi_ids"])  # the same neurons
    assert np.array_equal(presented["drive_scale"], truth["drive_scale"])  # on the same scale
    # Each neuron's true response to its own Gabor beats its response to the others'.
    starts, clips = presented["trial_start_tick"], presented["trial_clip_id"]
    rates = presented["expected_ticks"]
    response = np.zeros((len(targets), len(targets)))
    for clip in range(len(targets)):
        ticks = np.concatenate([np.arange(s + 5, s + HOLD) for s in starts[clips == clip]])
        response[:, clip] = rates[ticks][:, targets].mean(axis=0)
    assert np.all(response.argmax(axis=1) == np.arange(len(targets))), response
    # The session converts like any other, with the set's frames on its screen.
    store = SessionStore(convert([out], tmp_path / "store", progress=False)[0].folder)
    assert store.n_neurons == 40 and store.key.endswith("present-set")
    shown = np.asarray(store.video)
    for frames in stimuli.frames:
        assert (np.abs(shown.astype(int) - frames[0].astype(int)).max(axis=(1, 2)) <= 1).sum() >= 4 * HOLD
