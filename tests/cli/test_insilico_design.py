"""`nwb-v1former insilico mei`, `surround`, `controls` and `export`: stimuli written whole, on the screen's
pixel scale, traced to the checkpoint; what needs RFs or gratings refuses without them, in one line,
writing nothing."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
from click.testing import CliRunner
from nwb_v1former.cli.main import main
from prediction_helpers import checkpoint_for, simulated_session

from nwb_v1former.digest import sha256
from nwb_v1former.nwb.stimulus_set import read_stimulus_set

FAST = ("--steps", 2, "--starts", 2)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A simulated session (store) and an untrained checkpoint with a readout for it."""
    root = tmp_path_factory.mktemp("design-cli")
    _, store = simulated_session(root, "allen", minutes=1.0, clip_seconds=2.0, planes=1)
    return store, checkpoint_for(store, root / "micro.ckpt")


def run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(arg) for arg in args])
    return result.exit_code, result.output


def test_mei_and_surround_write_traceable_stimuli(session, tmp_path):
    store, checkpoint = session
    out = tmp_path / "designed"
    rois = store.roi_ids[:2].tolist()
    picked = ("--roi", rois[0], "--roi", rois[1])
    code, output = run(
        "insilico", "mei", checkpoint, "--data", store.folder, "--out", out, *picked, *FAST, "--json"
    )
    assert code == 0, output
    result = json.loads(output)
    assert result["analysis"] == "mei_image_excite_full"
    assert result["provenance"]["checkpoint_sha256"] == sha256(checkpoint)
    with np.load(out / "mei_image_excite_full.npz") as arrays:
        assert arrays["pixels"].dtype == np.uint8 and arrays["pixels"].shape == (2, 1, 36, 64)
        assert arrays["starts"].shape == (2, 2, 1, 36, 64) and arrays["roi_ids"].tolist() == rois
    written = json.loads((out / "mei_image_excite_full.json").read_text())
    assert written["table"]["rows"]["roi_id"] == rois

    # A centre needs the RFs: refused in one line, nothing written; after `insilico rf` it runs.
    code, output = run(
        "insilico",
        "mei",
        checkpoint,
        "--data",
        store.folder,
        "--out",
        out,
        *picked,
        *FAST,
        "--region",
        "centre",
    )
    assert (
        code != 0
        and output.startswith("Error:")
        and "insilico rf" in output
        and len(output.strip().splitlines()) == 1
    )
    assert not list(out.glob("mei_image_excite_centre.*"))
    code, output = run("insilico", "rf", checkpoint, "--out", out, *picked, "--clips", 1)
    assert code == 0, output
    code, output = run(
        "insilico",
        "mei",
        checkpoint,
        "--data",
        store.folder,
        "--out",
        out,
        *picked,
        *FAST,
        "--region",
        "centre",
        "--video",
        "--population",
    )
    assert code != 0 and "population objective optimises the full screen" in output
    code, output = run(
        "insilico",
        "mei",
        checkpoint,
        "--data",
        store.folder,
        "--out",
        out,
        *picked,
        *FAST,
        "--video",
        "--population",
        "--inhibit",
    )
    assert code == 0, output
    with np.load(out / "mei_video_inhibit_full_population.npz") as arrays:
        assert arrays["pixels"].shape == (1, 20, 36, 64) and arrays["stimulus_of"].tolist() == [0, 0]
    # Controls need each ROI's best grating: refused in one line before `insilico surround`, then run.
    code, output = run("insilico", "controls", checkpoint, "--data", store.folder, "--out", out, *picked)
    assert code != 0 and output.startswith("Error:") and "insilico surround" in output
    assert not list(out.glob("controls.*"))
    code, output = run("insilico", "surround", checkpoint, "--out", out, "--json")
    assert code == 0, output
    assert json.loads(output)["summary"]["rois"] == 2
    code, output = run("insilico", "controls", checkpoint, "--data", store.folder, "--out", out, "--json")
    assert code == 0, output
    assert json.loads(output)["summary"]["rois"] == 2

    # Export: the per-ROI images, the population video and each ROI's two controls, traced to the
    # checkpoint, as designed; the screen also as a video.
    stimulus_set = tmp_path / "set.nwb"
    code, output = run("insilico", "export", out, "--out", stimulus_set, "--repeats", 2, "--screen", "72x128")
    assert code == 0, output
    assert "(4 of them controls)" in output
    stimuli, schedule = read_stimulus_set(stimulus_set)
    assert stimuli.provenance["checkpoint_sha256"] == sha256(checkpoint)
    assert stimuli.provenance["targeted_rois"] == sorted(rois) and len(stimuli.names) == 7
    assert stimuli.provenance["results"][-1] == "controls"
    with av.open(str(stimulus_set.with_suffix(".mp4"))) as container:
        assert container.streams.video[0].frames == round(schedule.stop_s[-1] * 60)
    with np.load(out / "mei_image_excite_full.npz") as arrays:
        assert np.array_equal(
            stimuli.frames[stimuli.names.index(f"mei_image_excite_full_roi{rois[0]}")][0],
            arrays["pixels"][0, 0],
        )
    assert sorted(schedule.stimulus.tolist()) == sorted(list(range(7)) * 2)
    with np.load(stimulus_set.with_suffix(".npz")) as arrays:
        assert arrays["names"].tolist() == stimuli.names and arrays["roles"].tolist() == stimuli.roles
    code, output = run("insilico", "export", out, "--out", stimulus_set)
    assert code != 0 and "already exists" in output
    code, output = run(
        "insilico", "export", out, "--out", tmp_path / "bare.nwb", "--no-controls", "--no-video"
    )
    assert code == 0 and "(0 of them controls)" in output, output
    assert (
        not (tmp_path / "bare.mp4").exists() and len(read_stimulus_set(tmp_path / "bare.nwb")[0].names) == 3
    )
    code, output = run("insilico", "export", tmp_path / "empty", "--out", tmp_path / "other.nwb")
    assert code != 0 and output.startswith("Error:") and "insilico mei" in output
    assert not (tmp_path / "other.nwb").exists()


def test_unknown_rois_are_one_line_and_nothing_is_written(session, tmp_path):
    store, checkpoint = session
    out = tmp_path / "designed"
    code, output = run(
        "insilico", "mei", checkpoint, "--data", store.folder, "--out", out, "--roi", 10**9, *FAST
    )
    assert code != 0 and output.startswith("Error:") and "not in the readout" in output
    assert not out.exists()
