"""`nwb-v1former insilico`: every experiment writes JSON, NPZ and PNG that trace back to the checkpoint
and data, adds its table to a predictions file on request, and bad input is one line."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from demo_helpers import first_session, small_demo
from nwb_v1former.cli.main import main
from prediction_helpers import checkpoint_for, simulated_session

from nwb_v1former.digest import sha256
from nwb_v1former.model.checkpoint import load_checkpoint, save_checkpoint
from nwb_v1former.nwb.write import DEFAULT_NAME
from nwb_v1former.pipeline.predict import predict


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A simulated session with a few 2-second test trials (NWB and store), and an untrained checkpoint."""
    root = tmp_path_factory.mktemp("insilico-cli")
    source, store = simulated_session(root, "allen", minutes=1.0, clip_seconds=2.0, planes=1)
    return source, store, checkpoint_for(store, root / "micro.ckpt")


def run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(arg) for arg in args])
    return result.exit_code, result.output


def test_experiments_write_traceable_results(session, tmp_path):
    _, store, checkpoint = session
    out = tmp_path / "results"
    code, output = run(
        "insilico", "tuning", checkpoint, "--out", out, "--data", store.folder, "--directions", 4, "--json"
    )
    assert code == 0, output
    tuning = json.loads(output)
    assert tuning["provenance"]["checkpoint_sha256"] == sha256(checkpoint)
    assert tuning["provenance"]["session"] == store.key and tuning["provenance"]["data"] == str(store.folder)
    assert (
        set(tuning["summary"]) == {"rois", "tuned_depth", "still", "running"}
        and tuning["summary"]["rois"] == store.n_neurons
    )
    written = json.loads((out / "tuning.json").read_text())
    assert written["table"]["rows"]["roi_id"] == store.roi_ids.tolist()
    assert written["config"]["directions"] == 4 and (out / "tuning.png").stat().st_size > 0
    with np.load(out / "tuning.npz") as arrays:
        assert arrays["responses"].shape == (2, 4, 3, 3, store.n_neurons)

    rois = store.roi_ids[:2].tolist()
    code, output = run(
        "insilico", "rf", checkpoint, "--out", out, "--roi", rois[0], "--roi", rois[1], "--clips", 1
    )
    assert code == 0, output
    assert "2 of 2 ROIs mapped" in output
    with np.load(out / "receptive_fields.npz") as arrays:
        assert arrays["maps"].shape == (2, 36, 64) and arrays["roi_ids"].tolist() == rois

    code, output = run(
        "insilico", "attention", checkpoint, "--data", store.folder.parent, "--out", out, "--json"
    )
    assert code == 0, output
    attention = json.loads(output)
    assert attention["summary"]["trials"] >= 2 and attention["summary"]["shifts"] >= 20
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{stem}.{kind}"
        for stem in ("tuning", "receptive_fields", "attention")
        for kind in ("json", "npz", "png")
    )


def test_a_runs_results_go_into_the_run_where_its_report_finds_them(tmp_path_factory, tmp_path):
    demo = small_demo(tmp_path_factory)[0]
    run_folder = tmp_path / "run"
    shutil.copytree(demo / "run", run_folder, ignore=shutil.ignore_patterns("insilico", "report"))
    roi = int(load_checkpoint(run_folder / "best.ckpt").sessions[first_session(run_folder)].roi_ids[0])
    code, output = run("insilico", "rf", run_folder / "best", "--roi", roi, "--clips", 1, "--json")
    assert code == 0, output
    assert json.loads(output)["files"]["json"] == str(run_folder / "insilico" / "receptive_fields.json")
    code, output = run("report", run_folder)
    assert code == 0, output
    assert (run_folder / "report" / "insilico-receptive_fields.png").is_file()
    code, output = run("insilico", "rf", run_folder, "--roi", roi, "--clips", 1)
    assert code == 1 and "receptive_fields.json already exists" in output and len(output.splitlines()) == 1


def test_results_of_a_readout_the_predictions_lack_are_refused_with_nothing_written(session, tmp_path):
    """A second readout's ROIs are not in predictions made with the first: the table is refused before any
    result file or NWB byte is written."""
    source, store, checkpoint = session
    model = load_checkpoint(checkpoint)
    model.add_session("other", np.array([9001, 9002]), np.zeros((2, 3)))
    two_readouts = save_checkpoint(model, tmp_path / "two.ckpt")
    predictions = tmp_path / "predicted.nwb"
    predict(two_readouts, source, predictions, session=store.key, progress=False)
    content = predictions.read_bytes()
    out = tmp_path / "results"
    code, output = run(
        "insilico", "tuning", two_readouts, "--session", "other", "--directions", 4, "--out", out,
        "--nwb", predictions,
    )  # fmt: skip
    assert code == 1 and len(output.strip().splitlines()) == 1 and "names ROIs [9001, 9002]" in output
    assert not out.exists() and predictions.read_bytes() == content


def test_bad_input_is_one_line_and_writes_nothing(session, tmp_path):
    source, store, checkpoint = session
    code, output = run("insilico", "tuning", checkpoint, "--out", tmp_path / "a", "--session", "nope")
    assert code == 1 and output.strip().splitlines() == [
        f"Error: the checkpoint has no readout for session 'nope'; it has: {store.key} (fine-tune on this "
        "session first with `nwb-v1former finetune`, or pass --session)"
    ]
    code, output = run("insilico", "attention", checkpoint, "--data", tmp_path, "--out", tmp_path / "b")
    assert code == 1 and output.strip().splitlines() == [
        f"Error: {tmp_path}: a folder without NWB files (.nwb, .nwb.zarr)"
    ]
    code, output = run("insilico", "rf", tmp_path / "missing.ckpt", "--out", tmp_path / "c")
    assert code == 1 and len(output.strip().splitlines()) == 1 and "no such checkpoint file" in output
    code, output = run("insilico", "rf", checkpoint)
    assert code == 1 and output.strip().splitlines() == [
        f"Error: {checkpoint} is not in a run folder; say where the results go with --out"
    ]
    code, output = run("insilico", "rf", checkpoint, "--out", tmp_path / "d", "--nwb", source)
    assert code == 1 and output.strip().splitlines() == [
        f"Error: {source}: no nwb-v1former predictions in /processing/{DEFAULT_NAME}; run `nwb-v1former "
        "predict` on it first (or give the module's --name)"
    ]
    assert not any(tmp_path.iterdir())


def test_attention_and_the_behaviour_to_hold_take_any_source(session, tmp_path):
    """DATA as every other command takes it: here the NWB file itself, converted for the analysis only."""
    source, store, checkpoint = session
    code, output = run(
        "insilico", "attention", checkpoint, "--data", source, "--out", tmp_path / "a", "--json"
    )
    assert code == 0, output
    attention = json.loads(output)
    assert attention["provenance"]["session"] == store.key and attention["summary"]["trials"] >= 2
    code, output = run(
        "insilico",
        "tuning",
        checkpoint,
        "--data",
        source,
        "--out",
        tmp_path / "t",
        "--directions",
        4,
        "--json",
    )
    assert code == 0, output
    assert json.loads(output)["summary"]["rois"] == store.n_neurons
    assert not list(Path(tempfile.gettempdir()).glob("nwb-v1former-insilico-*"))  # the scratch store is gone
