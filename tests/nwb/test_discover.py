"""Discovery finds objects by type in every simulated layout and in real files written by others."""

from __future__ import annotations

import pytest

from nwb_v1former.errors import SessionError
from nwb_v1former.nwb import inspect_session
from nwb_v1former.simulate import simulate_and_write

EXPECTED = {
    "allen": ("/processing/ophys/DfOverF/DfOverF", "/stimulus/presentation/natural_movies_presentations"),
    "openscope": ("/processing/ophys/dff/traces", "/intervals/natural_movies_presentations"),
    "microns": ("/processing/ophys/Fluorescence/RoiResponseSeries1", "/acquisition/stimulus_movie"),
}


@pytest.mark.parametrize("layout", sorted(EXPECTED))
def test_finds_responses_stimulus_and_behaviour_by_type(tmp_path, layout):
    data = simulate_and_write(
        tmp_path / "sim", layout=layout, progress=False, neurons=12, minutes=1.0, clip_seconds=2.0
    )[0].data
    found = inspect_session(data)
    responses, stimulus = EXPECTED[layout]
    assert found.responses[0].path == responses
    assert found.responses[0].shape[1] == 12
    assert [s.path for s in found.stimuli] == [stimulus]
    assert set(found.behavior) == {"running", "pupil_size", "pupil_center"}
    assert found.problems == []
    assert found.roi_tables[0].n_rois == 12


def test_real_suite2p_file_has_responses_but_no_stimulus(real_nwb):
    found = inspect_session(real_nwb / "neuroconv_nwb_test.nwb")
    assert found.nwb_version == "2.2.5"
    paths = {series.path for series in found.responses}
    assert "/processing/ophys/Fluorescence/RoiResponseSeries" in paths
    assert all(series.shape == (250, 15) for series in found.responses)
    assert found.roi_tables[0].n_rois == 15 and found.roi_tables[0].masks == ("image_mask",)
    assert any(problem.startswith("no stimulus movie") for problem in found.problems)


def test_real_one_photon_movie_is_not_mistaken_for_a_stimulus(real_nwb):
    found = inspect_session(real_nwb / "ideas-toolbox-suite2p_dandi_compliant_movie.nwb")
    assert found.responses == [] and found.stimuli == []
    assert any(problem.startswith("no ROI responses") for problem in found.problems)


def test_nwb1_is_refused_with_one_clear_line(real_nwb):
    with pytest.raises(SessionError, match=r"NWB 1\.x .*convert it to NWB 2"):
        inspect_session(real_nwb / "pynwb_496908818s.nwb")


def test_not_hdf5_and_truncated_files_are_refused(tmp_path):
    text = tmp_path / "notes.nwb"
    text.write_text("not an NWB file\n")
    with pytest.raises(SessionError, match="not a readable HDF5 file"):
        inspect_session(text)
    data = simulate_and_write(tmp_path / "sim", progress=False, neurons=5, minutes=1.0, clip_seconds=2.0)[
        0
    ].data
    truncated = tmp_path / "truncated.nwb"
    truncated.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    with pytest.raises(SessionError, match=r"truncated\.nwb"):
        inspect_session(truncated)
    with pytest.raises(SessionError, match="no such file"):
        inspect_session(tmp_path / "missing.nwb")
