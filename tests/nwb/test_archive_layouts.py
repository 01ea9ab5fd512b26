"""Sessions written as the archive's converters write them: the frame on screen at every tick, trials
that are passes of a movie the file holds, repeats never split across tiers, the behaviour series a
scientist would pick, cameras never taken for the stimulus, and refusals where the reader cannot know."""

from __future__ import annotations

import numpy as np
import pytest
from archive_layouts import (
    GREY,
    write_lab_videos,
    write_raw_companion,
    write_repeated_clip,
    write_visual_behavior,
    write_visual_coding,
)
from click.testing import CliRunner
from nwb_v1former.cli.main import main
from prediction_helpers import checkpoint_for

from nwb_v1former.data.store import SessionStore
from nwb_v1former.errors import MissingDataError, SessionError
from nwb_v1former.nwb.choices import ReaderChoices
from nwb_v1former.nwb.convert import convert
from nwb_v1former.pipeline.predict import predict
from nwb_v1former.pipeline.train import data_provenance

HELD_OUT = ReaderChoices(split="stimulus")
"""A single clip's repeats held out whole (no split can make all three tiers of one short clip)."""


def _convert(path, out, **options) -> SessionStore:
    return SessionStore(convert([path], out, progress=False, **options)[0].folder)


def _shown(store: SessionStore) -> np.ndarray:
    """The value of the uniform frame on screen at each tick of the store."""
    video = np.asarray(store.video)
    assert (video == video[:, :1, :1]).all()  # every tick shows one whole frame, never a blend
    return video[:, 0, 0].astype(int)


@pytest.fixture(scope="module")
def visual_coding(tmp_path_factory):
    root = tmp_path_factory.mktemp("visual-coding")
    path, screen, expected = write_visual_coding(root / "sub-1_ses-1-StimA_behavior+image+ophys.nwb")
    return path, screen, expected, _convert(path, root / "store")


def test_visual_coding_every_tick_shows_the_frame_on_screen(visual_coding):
    _, screen, _, store = visual_coding
    truth = screen.at(np.asarray(store.times))
    assert np.array_equal(_shown(store), truth)
    scenes = (truth > 100) & (truth < GREY)  # 4 Hz scenes beside 30 Hz movies: each held its 250 ms
    assert abs(int(scenes.sum()) - 48 * 0.25 * 30) <= 1
    assert any("numbered k in its name" in note for note in store.meta["notes"])


def test_visual_coding_trials_are_passes_and_repeats_stay_in_one_tier(visual_coding):
    _, screen, expected, store = visual_coding
    trials, truth = store.trials, screen.at(np.asarray(store.times))
    kinds = []
    for first, stop in zip(trials.first_tick, trials.stop_tick, strict=True):
        shown = truth[first:stop]
        assert (shown != GREY).all()  # no grey edge, no grating epoch (its frames are not in the file)
        kinds.append(
            "natural_movie_one"
            if shown.max() <= 60
            else "natural_movie_three"
            if shown.max() <= 100
            else "natural_scenes"
        )
    assert {kind: kinds.count(kind) for kind in set(kinds)} == expected
    for kind in ("natural_movie_one", "natural_movie_three"):  # every pass, in either epoch, is one clip
        mine = np.array(kinds) == kind
        assert len(set(trials.stimulus_id[mine])) == 1
        assert len(set(trials.tier[mine])) == 1 and trials.tier[mine][0] in ("validation", "test")
    for sid in set(trials.stimulus_id):
        assert len(set(trials.tier[trials.stimulus_id == sid])) == 1  # no clip in two tiers
    assert store.meta["behavior"]["sources"] == {
        "running": "/processing/behavior/BehavioralTimeSeries/running_speed",
        "pupil_size": "/processing/behavior/PupilTracking/pupil_size",
        "pupil_center": "/processing/behavior/EyeTracking/pupil_location",
    }


def test_visual_behavior_flashes_are_shown_for_their_stop_times_and_eye_and_running_are_allens(tmp_path):
    path, screen, expected = write_visual_behavior(tmp_path / "behavior_ophys_experiment_1.nwb")
    store = _convert(path, tmp_path / "store")
    truth = screen.at(np.asarray(store.times))
    assert np.array_equal(_shown(store), truth)
    assert 0.25 < (truth == GREY).mean() < 0.75  # 250 ms on, 500 ms grey, omitted flashes grey
    sources = store.meta["behavior"]["sources"]
    assert sources == {
        "running": "/processing/running/speed",
        "pupil_center": "/acquisition/EyeTracking/pupil_tracking",
        "pupil_size": "/acquisition/EyeTracking/pupil_tracking (area)",
    }
    behavior, centre = np.asarray(store.behavior), np.asarray(store.pupil_center)
    assert np.allclose(behavior[:, 0], expected["pupil_size"]) and np.allclose(
        behavior[:, 1], expected["running"]
    )
    assert np.allclose(centre, expected["pupil_center"])  # not the corneal reflection (3.0)
    assert store.meta["trials_from"] == "/intervals/trials"


def test_a_presentations_table_shows_each_frame_from_its_start_to_its_stop_time(tmp_path):
    from archive_layouts import Screen, _write, add_dff, imaging_clock, new_file, uniform_frames
    from pynwb.epoch import TimeIntervals
    from pynwb.image import ImageSeries

    nwbfile = new_file("presentations")
    nwbfile.add_stimulus_template(
        ImageSeries(
            name="natural_scenes", data=uniform_frames(np.arange(1, 7)), unit="NA", format="raw", rate=1.0
        )
    )
    table = TimeIntervals(name="natural_scenes_presentations", description="OpenScope-style presentations")
    table.add_column(name="frame", description="index into stimulus_template/natural_scenes")
    screen, start = Screen(), 1.0
    for k in range(30):  # 250 ms on, 500 ms grey, as AllenSDK and OpenScope flash images
        frame = int(k * 5 % 6)
        table.add_row(start_time=start, stop_time=start + 0.25, frame=frame)
        screen.add(start, start + 0.25, 1 + frame)
        start += 0.75
    nwbfile.add_time_intervals(table)
    add_dff(nwbfile, imaging_clock(start + 1.0))
    store = _convert(_write(nwbfile, tmp_path / "presentations.nwb"), tmp_path / "store")
    assert np.array_equal(_shown(store), screen.at(np.asarray(store.times)))

    nwbfile = new_file("twice")
    nwbfile.add_stimulus_template(
        ImageSeries(
            name="natural_scenes", data=uniform_frames(np.arange(1, 7)), unit="NA", format="raw", rate=1.0
        )
    )
    twice = TimeIntervals(name="natural_scenes_presentations", description="two rows at one time")
    twice.add_column(name="frame", description="index into stimulus_template/natural_scenes")
    for start_time, frame in ((1.0, 0), (1.0, 3), (2.0, 1)):
        twice.add_row(start_time=start_time, stop_time=start_time + 0.25, frame=frame)
    nwbfile.add_time_intervals(twice)
    add_dff(nwbfile, imaging_clock(4.0))
    with pytest.raises(SessionError, match="timestamps are not increasing at sample 1"):
        convert([_write(nwbfile, tmp_path / "twice.nwb")], tmp_path / "refused", progress=False)
    assert not (tmp_path / "refused").exists()


def test_a_camera_is_never_the_stimulus_and_an_unclear_movie_is_refused(tmp_path):
    path = write_lab_videos(tmp_path / "lab.nwb", ("stimulus_movie", "eye_camera"))
    store = _convert(path, tmp_path / "store")
    assert store.meta["stimulus"] == ["/acquisition/Video stimulus_movie"]
    assert set(_shown(store)) <= set(range(1, 91)) | {GREY}  # the eye camera's frames are 101-190
    assert any("camera" in note for note in store.meta["notes"])

    side = write_lab_videos(  # a camera described by what the animal was doing: still a camera
        tmp_path / "side.nwb",
        ("mouse12_side", "natural_movie"),
        descriptions=("IR video of the mouse during visual stimulation.", "Video recorded by camera."),
    )
    store = _convert(side, tmp_path / "side-store")
    assert store.meta["stimulus"] == ["/acquisition/Video natural_movie"]
    assert set(_shown(store)) <= set(range(101, 191)) | {GREY}

    cameras = write_lab_videos(tmp_path / "cameras.nwb", ("eye_camera", "face_camera"))
    with pytest.raises(MissingDataError, match=r"only camera videos .*--stimulus"):
        convert([cameras], tmp_path / "none", progress=False)

    unclear = write_lab_videos(tmp_path / "unclear.nwb", ("session_a", "session_b"))
    code, output = _cli("convert", unclear, "--out", tmp_path / "refused")
    assert code == 1 and "--stimulus" in output
    assert "/acquisition/Video session_a" in output and "/acquisition/Video session_b" in output
    assert not (tmp_path / "refused").exists()
    assert _cli("inspect", unclear)[0] == 1
    assert _cli("inspect", unclear, "--stimulus", "Video session_a")[0] == 0
    chosen = _convert(unclear, tmp_path / "chosen", choices=ReaderChoices(stimulus=("Video session_a",)))
    assert set(_shown(chosen)) <= set(range(1, 91)) | {GREY}


def test_every_pass_of_a_movie_is_one_clip_with_a_60hz_index_and_across_blocks(tmp_path):
    path, _ = write_repeated_clip(tmp_path / "openscope.nwb", passes=(3, 2), frames=60, index_rate=60.0)
    trials = _convert(path, tmp_path / "store", choices=HELD_OUT).trials
    assert len(trials) == 5 and len(set(trials.stimulus_id)) == 1  # one clip: five repeats, one tier


def test_a_pass_cut_by_the_recording_start_is_not_a_repeat(tmp_path):
    path, _ = write_repeated_clip(tmp_path / "late.nwb", passes=(3,), frames=90, imaging_start=2.5)
    store = _convert(path, tmp_path / "store", choices=HELD_OUT)
    trials = store.trials
    assert len(trials) == 2 and len(set(trials.stimulus_id)) == 1
    assert np.all(trials.stop_tick - trials.first_tick == 90)
    assert any("cut by the recording's start or end" in note for note in store.meta["notes"])


def test_an_interval_reaching_into_a_pass_leaves_the_pass_whole(tmp_path):
    onsets = 1.0 + 2.0 * np.arange(3)  # where write_repeated_clip puts three back-to-back passes of 60
    movie = (onsets[0] - 0.3, onsets[-1] + 2.3)
    gratings = (0.0, onsets[0] + 1.2)  # 36 of the first pass's 60 frames: a fragment, not a trial
    path, _ = write_repeated_clip(tmp_path / "epochs2.nwb", passes=(3,), frames=60, epochs=(gratings, movie))
    store = _convert(path, tmp_path / "store", choices=HELD_OUT)
    trials = store.trials
    assert len(trials) == 3 and np.all(trials.stop_tick - trials.first_tick == 60)
    assert len(set(trials.stimulus_id)) == 1
    assert any("fragment" in note for note in store.meta["notes"])


def test_a_clip_with_a_flash_left_out_is_not_a_repeat_of_the_whole_one(tmp_path):
    from archive_layouts import _write, add_dff, imaging_clock, legacy_index, new_file, uniform_frames
    from pynwb.epoch import TimeIntervals
    from pynwb.image import ImageSeries

    nwbfile = new_file("omitted")
    template = ImageSeries(name="images", data=uniform_frames([7]), unit="NA", format="raw", rate=1.0)
    nwbfile.add_stimulus_template(template)
    table = TimeIntervals(name="images_presentations", description="AllenSDK-style presentations")
    onsets = []
    # four flashes of one image in each trial; trial 1's come with its 3rd slot left out (omitted)
    for trial, (slots, omitted) in enumerate(((4, None), (5, 2), (4, None))):
        for flash in range(slots):
            start = 2.0 + 6.0 * trial + 0.75 * flash + RNG_JITTER[trial, flash]
            table.add_row(start_time=start, stop_time=start + 0.25)
            if flash != omitted:
                onsets.append(start)
        nwbfile.add_trial(start_time=1.5 + 6.0 * trial, stop_time=1.5 + 6.0 * trial + 5.0)
    nwbfile.add_time_intervals(table)
    nwbfile.add_stimulus(legacy_index("images", template, onsets, [0] * len(onsets)))
    add_dff(nwbfile, imaging_clock(20.0))
    trials = _convert(_write(nwbfile, tmp_path / "omitted.nwb"), tmp_path / "store").trials
    assert len(trials) == 3
    assert trials.stimulus_id[0] == trials.stimulus_id[2] != trials.stimulus_id[1]


RNG_JITTER = np.random.default_rng(3).uniform(-3e-3, 3e-3, (3, 5))


def test_a_trials_table_of_short_trials_keeps_them(tmp_path):
    path, _ = write_repeated_clip(
        tmp_path / "short.nwb",
        passes=(1,) * 6,
        frames=60,
        trials=tuple((t, t + 0.5) for t in [1.0, 5.0, 9.0]),
    )
    trials = _convert(path, tmp_path / "store", choices=HELD_OUT).trials
    assert len(trials) == 3 and np.all(trials.stop_tick - trials.first_tick == 15)


def test_predict_reads_the_file_with_the_choices_training_recorded(tmp_path):
    path = write_lab_videos(tmp_path / "lab.nwb", ("session_a", "session_b"))
    choices = ReaderChoices(stimulus=("Video session_a",))
    store = _convert(path, tmp_path / "store", choices=choices)
    assert store.meta["reader_choices"] == {
        "responses": None,
        "stimulus": ["Video session_a"],
        "image_order": "auto",
        "split": "auto",
    }
    provenance = {"training_data": data_provenance([store])}
    checkpoint = checkpoint_for(store, tmp_path / "model.ckpt", extra={"provenance": provenance})
    result = predict(checkpoint, path, tmp_path / "predicted.nwb", progress=False)
    assert result.written.predicted_frames > 0
    recorded = ReaderChoices(stimulus=("Video session_a",), split="clips")
    assert ReaderChoices().merged(recorded) == recorded  # nothing given: training's choices
    assert ReaderChoices(split="auto").merged(recorded).split_rule == "auto"  # given, even "auto": the user's
    bare = checkpoint_for(store, tmp_path / "bare.ckpt")
    with pytest.raises(SessionError, match="--stimulus"):
        predict(bare, path, tmp_path / "refused.nwb", progress=False)


def test_images_without_order_or_numbers_are_refused_until_the_order_is_chosen(tmp_path):
    from archive_layouts import _write, add_dff, imaging_clock, new_file, uniform_frames
    from pynwb.base import Images
    from pynwb.image import GrayscaleImage, IndexSeries

    nwbfile = new_file("unordered")
    images = [
        GrayscaleImage(name=name, data=uniform_frames([v])[0])
        for name, v in (("owl", 3), ("cat", 1), ("dog", 2))
    ]
    template = Images(name="pictures", images=images, description="three pictures")
    nwbfile.add_stimulus_template(template)
    nwbfile.add_stimulus(
        IndexSeries(
            name="pictures_stimulus",
            data=np.tile(np.arange(3, dtype=np.uint32), 8),
            indexed_images=template,
            unit="N/A",
            timestamps=1.0 + 0.5 * np.arange(24),
        )
    )
    add_dff(nwbfile, imaging_clock(14.0))
    path = _write(nwbfile, tmp_path / "unordered.nwb")
    with pytest.raises(SessionError, match=r"--image-order numbers .* or names"):
        convert([path], tmp_path / "refused", progress=False)
    store = _convert(path, tmp_path / "store", choices=ReaderChoices(image_order="names"))
    assert [int(v) for v in np.unique(_shown(store)) if v != GREY] == [1, 2, 3]  # cat, dog, owl


def test_inspect_exits_0_exactly_when_convert_succeeds(tmp_path):
    path, _ = write_repeated_clip(tmp_path / "one-clip.nwb", passes=(1, 1, 1))
    code, output = _cli("inspect", path)
    assert code == 1 and "no split can hold out" in output and "--split clips" not in output
    code, output = _cli("convert", path, "--out", tmp_path / "refused")
    assert code == 1 and "no split can hold out" in output and "--split clips" not in output
    longer, _ = write_repeated_clip(
        tmp_path / "long-clip.nwb", passes=(1, 1, 1), frames=200
    )  # a behaviour clock one longer
    code, output = _cli("inspect", longer)
    assert code == 0, output
    assert "the last one ignored" in output
    assert _cli("convert", longer, "--out", tmp_path / "store")[0] == 0


def test_a_folder_skips_a_raw_companion_file_with_a_note(tmp_path, visual_coding):
    folder = tmp_path / "sub-1"
    folder.mkdir()
    (folder / visual_coding[0].name).write_bytes(visual_coding[0].read_bytes())
    write_raw_companion(folder / "sub-1_ses-1-StimA_ophys.nwb")
    skipped: list[str] = []
    sessions = convert([folder], tmp_path / "store", progress=False, on_skip=skipped.append)
    assert len(sessions) == 1 and sessions[0].source.name.endswith("behavior+image+ophys.nwb")
    assert len(skipped) == 1 and "raw imaging only" in skipped[0] and "processed file" in skipped[0]
    code, output = _cli("convert", folder / "sub-1_ses-1-StimA_ophys.nwb", "--out", tmp_path / "raw")
    assert code == 1 and "raw imaging only (/acquisition/MotionCorrectedTwoPhotonSeries)" in output


def _cli(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(arg) for arg in args])
    return result.exit_code, result.output
