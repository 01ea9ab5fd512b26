"""#19 point 9: one line means one line: no builder dumps, no printed warnings, no torch advice,
and 'no stimulus movie' says what was found instead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from nwb_builders import write_session
from pynwb import NWBHDF5IO
from pynwb.image import ImageSeries

from hostile.checks import assert_refused, cli, cli_process, partials, snapshot
from hostile.mutations import RESPONSES, ROI_TABLE, mutated


def test_an_nwb_construction_failure_names_the_object_without_the_builder_dump(
    session, tmp_path: Path
) -> None:
    def no_rois_link(handle) -> None:
        del handle[f"{RESPONSES}/rois"]

    nwb = mutated(session.nwb, tmp_path / "no-rois-link.nwb", no_rois_link)
    for command in ("inspect", "convert"):
        args = [command, nwb] + (["--out", tmp_path / "store"] if command == "convert" else [])
        line = assert_refused(cli(*args), str(nwb), f"/{RESPONSES}", "missing argument 'rois'")
        assert "GroupBuilder" not in line


def test_pynwb_warnings_are_problems_not_printed_lines(session, tmp_path: Path) -> None:
    """A session start time without a time zone makes pynwb warn on every read."""

    def no_time_zone(handle) -> None:
        for name in ("session_start_time", "timestamps_reference_time"):
            del handle[name]
            handle[name] = "2026-01-01T00:00:00"

    nwb = mutated(session.nwb, tmp_path / "no-time-zone.nwb", no_time_zone)
    result = cli_process("inspect", nwb)
    assert result.exit_code == 0, result.output
    assert "while reading: UserWarning: Date is missing timezone information" in result.output
    assert "file.py" not in result.output and "_add_missing_timezone" not in result.output

    def also_duplicate_ids(handle) -> None:
        no_time_zone(handle)
        handle[f"{ROI_TABLE}/id"][4] = handle[f"{ROI_TABLE}/id"][3]

    bad = mutated(session.nwb, tmp_path / "both.nwb", also_duplicate_ids)
    assert_refused(cli_process("convert", bad, "--out", tmp_path / "store"), str(bad), "appears 2 times")


def test_a_checkpoint_holding_python_objects_is_one_line_without_the_unsafe_advice(
    session, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "pickled.ckpt"
    torch.save({"format": "nwb-v1former-checkpoint", "path": Path("anything")}, checkpoint)
    before = snapshot(checkpoint, session.nwb)
    out = tmp_path / "out.nwb"
    line = assert_refused(
        cli("predict", checkpoint, session.nwb, "--out", out), str(checkpoint), "never loaded"
    )
    assert "weights_only" not in line
    assert_refused(cli("evaluate", checkpoint, session.store), str(checkpoint), "never loaded")
    assert not out.exists() and snapshot(checkpoint, session.nwb) == before and not partials(tmp_path)


def test_a_missing_external_video_and_a_one_frame_movie_say_what_was_found(tmp_path: Path) -> None:
    external = write_session(tmp_path / "external.nwb", with_stimulus=False)
    with NWBHDF5IO(external, "a") as io:
        nwbfile = io.read()
        nwbfile.add_acquisition(
            ImageSeries(
                name="movie",
                external_file=["movie.mp4"],
                format="external",
                starting_frame=[0],
                rate=30.0,
                num_samples=600,
                unit="n.a.",
            )
        )
        io.write(nwbfile)
    one_frame = write_session(
        tmp_path / "one-frame.nwb", frames=np.zeros((1, 36, 64), np.uint8), frame_times=np.array([0.0])
    )
    cases = {
        external: ("its external video file 'movie.mp4' is missing", "relative to the NWB file"),
        one_frame: ("no stimulus movie", "holds 1 frame"),
    }
    for nwb, found in cases.items():
        before = snapshot(nwb)
        assert_refused(cli("convert", nwb, "--out", tmp_path / "store"), str(nwb), *found)
        assert found[-1] in cli("inspect", nwb).output
        assert snapshot(nwb) == before and not (tmp_path / "store").exists()
