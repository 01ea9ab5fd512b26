"""#16 points 2 and 3: sessions as labs really record them, through the command line.

Responses stored ROIs x time (suite2p's NWB writer has done so) are read transposed, and `inspect`
marks what the reader will use, never takes a voltage for a speed, and exits non-zero for a file
that cannot be converted.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from nwb_builders import write_session
from nwb_v1former.cli.main import main

DFF = "/processing/ophys/DfOverF/dff"
NEUROPIL = "/processing/ophys/Neuropil/Neuropil"
RUNNING = "/processing/behavior/BehavioralTimeSeries/running_speed"
MOVIE = "/acquisition/movie"


def run(*args: str | Path):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def line_of(output: str, path: str) -> str:
    return next(line for line in output.splitlines() if f" {path}  " in line)


def test_responses_stored_rois_by_time_are_read_transposed(tmp_path: Path) -> None:
    upright = write_session(tmp_path / "upright.nwb")
    on_timestamps = write_session(tmp_path / "timestamps.nwb", transposed=True)
    on_a_rate = write_session(tmp_path / "rate.nwb", transposed=True, response_rate=30.0)
    for nwb in (on_timestamps, on_a_rate):
        result = run("inspect", nwb)
        assert result.exit_code == 0, result.output
        assert line_of(result.output, DFF).startswith(f"   * {DFF}  RoiResponseSeries (6, 600), ")
        assert "stored ROIs x time: read transposed" in line_of(result.output, DFF)
        assert "columns but its ROI region lists" not in result.output
        assert "UserWarning" not in result.stderr  # pynwb's warning is a problem in the report
        assert json.loads(run("inspect", nwb, "--json").stdout)[0]["will_use"]["transposed"] == [DFF]
    stores = {}
    for nwb in (upright, on_timestamps, on_a_rate):
        result = run("convert", nwb, "--out", tmp_path / f"store-{nwb.stem}", "--quiet")
        assert result.exit_code == 0, result.output
        (stores[nwb.stem],) = (tmp_path / f"store-{nwb.stem}").glob("*/meta.json")
    expected = np.load(stores["upright"].with_name("responses.npy"))
    for name in ("timestamps", "rate"):
        assert np.array_equal(np.load(stores[name].with_name("responses.npy")), expected), name
        transforms = json.loads(stores[name].read_text())["transforms"]
        assert f"{DFF}: stored ROIs x time (6, 600), read transposed" in transforms
    assert not any("transposed" in t for t in json.loads(stores["upright"].read_text())["transforms"])


def test_a_square_series_whose_time_axis_cannot_be_told_is_refused(tmp_path: Path) -> None:
    square = write_session(tmp_path / "square.nwb", n_rois=600, transposed=True)
    reason = f"{DFF} is 600 x 600 with 600 ROIs and 600 timestamps, so which axis is time cannot be told"
    inspected = run("inspect", square)
    assert inspected.exit_code == 1 and reason in inspected.output
    converted = run("convert", square, "--out", tmp_path / "store", "--quiet")
    assert converted.exit_code == 1 and converted.output.splitlines() == [
        f"Error: {square}: {reason}; store it time x ROIs without its last frame, so that the two differ"
    ]
    assert not (tmp_path / "store").exists()


def test_inspect_marks_what_will_be_used_and_never_takes_a_voltage_for_a_speed(tmp_path: Path) -> None:
    nwb = write_session(tmp_path / "suite2p-like.nwb", neuropil=True)
    result = run("inspect", nwb)
    assert result.exit_code == 0, result.output
    assert line_of(result.output, DFF).startswith("   * ")
    assert line_of(result.output, NEUROPIL).startswith("     ")  # listed, never picked
    assert line_of(result.output, MOVIE).startswith("   * ")
    assert line_of(result.output, RUNNING).startswith("   * running: ")
    will_use = json.loads(run("inspect", nwb, "--json").stdout)[0]["will_use"]
    assert will_use["responses"] == [DFF] and will_use["behavior"] == {"running": RUNNING}

    volts = write_session(tmp_path / "wheel-volts.nwb", running_unit="V")
    result = run("inspect", volts)
    assert result.exit_code == 0, result.output
    assert "running:" not in result.output
    assert f"{RUNNING} is a voltage (unit V), not a running speed: not used" in result.output
    store = tmp_path / "store"
    assert run("convert", volts, "--out", store, "--quiet").exit_code == 0
    (meta,) = store.glob("*/meta.json")
    behavior = json.loads(meta.read_text())["behavior"]
    assert "running" in behavior["filled_with_neutral_value"] and "running" not in behavior["sources"]


def test_inspect_exits_non_zero_when_a_source_cannot_be_converted(tmp_path: Path) -> None:
    folder = tmp_path / "sessions"
    folder.mkdir()
    good = write_session(folder / "a-good.nwb")
    no_movie = write_session(folder / "b-no-movie.nwb", with_stimulus=False)
    alone = run("inspect", no_movie)
    assert alone.exit_code == 1
    assert "responses:  (none used: see problems)" in alone.stdout and "*" not in alone.stdout
    assert alone.stderr.startswith(f"Error: {no_movie} cannot be converted: no stimulus movie")
    as_json = run("inspect", no_movie, "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)[0]["will_use"] is None
    both = run("inspect", folder)
    assert both.exit_code == 1 and f"{good}  (NWB " in both.stdout
    assert both.stderr.splitlines() == ["Error: 1 of 2 files cannot be converted (listed above)"]
    assert run("inspect", good).exit_code == 0


def test_a_real_suite2p_file_without_a_movie_exits_non_zero(real_nwb: Path) -> None:
    result = run("inspect", real_nwb / "neuroconv_nwb_test.nwb")
    assert result.exit_code == 1 and "cannot be converted: no stimulus movie" in result.stderr
    assert "/processing/ophys/Fluorescence/Neuropil" in result.stdout
