"""`predict` and `evaluate` from the command line: provenance and per-ROI scores in the file, names that
replace or keep earlier predictions, one-line errors, and a source that survives SIGKILL at any moment."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hdmf.backends.io import HDMFIO
from nwb_checks import dataset_digests
from nwb_v1former.cli.main import main
from prediction_helpers import MICRO, checkpoint_for, simulated_session
from pynwb import NWBHDF5IO

from nwb_v1former.nwb.discover import open_nwb
from nwb_v1former.nwb.write import DEFAULT_NAME

KILLER = Path(__file__).with_name("sigkill_predict.py")
TRAINING = {
    "session": "sub-1",
    "dandiset": "000728",
    "version": "0.240827.1809",
    "asset_path": "sub-1/ses-1.nwb",
}


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A simulated session with held-out test trials, and an untrained checkpoint with its readout."""
    root = tmp_path_factory.mktemp("predict")
    source, store = simulated_session(root, "openscope", minutes=0.75, clip_seconds=2.0, planes=1)
    provenance = {
        "name": "micro-sim",
        "training_data": [TRAINING],
        "trained_on_simulated_data": True,
        "evaluation": {store.key: {"single_trial_correlation": 0.125}},
    }
    checkpoint = checkpoint_for(store, root / "micro.ckpt", extra={"provenance": provenance})
    return source, store, checkpoint


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A shorter session without scorable test trials (so no evaluation) and its checkpoint."""
    root = tmp_path_factory.mktemp("small")
    source, store = simulated_session(root, "openscope", planes=1)
    return source, store, checkpoint_for(store, root / "micro.ckpt")


def run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(arg) for arg in args])
    return result.exit_code, result.output


def test_predict_writes_provenance_and_per_roi_scores_that_evaluate_agrees_with(session, tmp_path):
    source, store, checkpoint = session
    out = tmp_path / "out.nwb"
    code, output = run("predict", checkpoint, source, "--out", out, "--json", "--quiet")
    assert code == 0, output
    (result,) = json.loads(output)  # a list, as for several sources
    assert result["session"] == store.key and result["path"] == str(out)
    assert result["predicted_frames"] > 0.9 * result["frames"]
    code, output = run("evaluate", checkpoint, store.folder, "--json")
    assert code == 0, output
    (scores,) = json.loads(output)
    assert scores.pop("session") == store.key and scores.pop("checkpoint") == str(checkpoint)
    assert {k: v for k, v in scores.items() if k not in ("neurons", "inference")} == result["evaluation"]
    with NWBHDF5IO(out, "r") as io:
        module = io.read().processing[DEFAULT_NAME]
        model = module["model"]
        assert model.checkpoint_sha256 == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
        assert (model.model_name, model.session_key, model.preset) == ("micro-sim", store.key, "tiny")
        assert model.trained_on_simulated_data and "simulated" in model.training_data_description
        assert list(model.training_data[:]) == ["DANDI:000728/0.240827.1809/sub-1/ses-1.nwb"]
        assert list(model.training_dandisets[:]) == ["DANDI:000728/0.240827.1809"]
        assert json.loads(model.config) == json.loads(json.dumps(MICRO.to_dict()))
        recorded = json.loads(model.evaluation)
        assert recorded["training"] == {store.key: {"single_trial_correlation": 0.125}}
        assert recorded["session"] == {"key": store.key, **result["evaluation"]}
        table = module["evaluation"]
        np.testing.assert_array_equal(table["roi_id"].data[:], scores["neurons"]["roi_id"])
        for metric in ("single_trial_correlation", "correlation_to_average", "noise_ceiling"):
            expected = np.array([np.nan if v is None else v for v in scores["neurons"][metric]])
            np.testing.assert_allclose(table[metric].data[:], expected, rtol=1e-6)
        (series,) = [s for s in module.data_interfaces.values() if hasattr(s, "recorded")]
        assert "Trained on simulated data" in series.description and series.model is model


def test_predict_reads_its_source_once_and_says_what_it_does(session, tmp_path, monkeypatch):
    """One pynwb read per command (the reader's plan serves conversion and writing; the new file is
    written, then validated from its builder); the steps are told on stderr, which is a log file here
    (a line at least every minute in loops)."""
    source, _, checkpoint = session
    reads = []
    original = HDMFIO.read

    def counted(io, *args, **kwargs):
        reads.append(io)
        return original(io, *args, **kwargs)

    monkeypatch.setattr(HDMFIO, "read", counted)
    code, output = run("predict", checkpoint, source, "--out", tmp_path / "out.nwb")
    assert code == 0, output
    assert len(reads) == 1
    assert f"predict: reading {source.name}" in output and "predict: scoring" in output


def test_evaluate_scores_any_source_and_refuses_a_predictions_only_file(session, tmp_path):
    source, store, checkpoint = session
    copy, derived = tmp_path / "copy.nwb", tmp_path / "derived.nwb"
    for out, kind in ((copy, "full"), (derived, "predictions-only")):
        code, output = run("predict", checkpoint, source, "--out", out, "--copy", kind, "--quiet")
        assert code == 0, output
    code, output = run("evaluate", checkpoint, store.folder, source, copy, "--json", "--quiet")
    assert code == 0, output
    results = json.loads(output)
    assert [r["session"] for r in results] == [store.key] * 3
    assert results[1] == results[0] and results[2] == results[0], "the same trials, tiers and predictions"
    code, output = run("evaluate", checkpoint, derived)
    assert code == 1 and output.startswith("Error: ") and len(output.strip().splitlines()) == 1, output
    assert (
        f"a predictions-only file holds no recording to score; evaluate its source ({source.name}" in output
    )


def test_in_place_twice_replaces_and_another_name_keeps_both(small, tmp_path):
    source, _, checkpoint = small
    copy = shutil.copyfile(source, tmp_path / "session.nwb")
    for name, replaced in ((DEFAULT_NAME, False), (DEFAULT_NAME, True), ("other", False)):
        code, output = run("predict", checkpoint, copy, "--in-place", "--name", name, "--json", "--quiet")
        assert code == 0, output
        assert json.loads(output)[0]["replaced_earlier_predictions"] is replaced
    before, after = dataset_digests(source), dataset_digests(copy)
    assert {path: after[path] for path in before} == before
    with open_nwb(copy) as nwbfile:
        assert {DEFAULT_NAME, "other"} <= set(nwbfile.processing)
        first, second = (nwbfile.processing[n]["traces"].data[:] for n in (DEFAULT_NAME, "other"))
        np.testing.assert_array_equal(first, second)  # same model, same numbers
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.nwb"]


def test_help():
    for command in ("predict", "evaluate"):
        code, output = run(command, "--help")
        assert code == 0 and "Usage:" in output and "--json" in output


def test_errors_are_one_line(session, tmp_path):
    source, store, checkpoint = session
    out = tmp_path / "out.nwb"
    cases = [
        (["predict", checkpoint, source, "--out", out, "--session", "nope"], "no readout for session 'nope'"),
        (["predict", tmp_path / "missing.ckpt", source, "--out", out], "no such checkpoint file"),
        (["predict", checkpoint, source, "--out", out, "--in-place"], "either an output file"),
        (["predict", checkpoint, source], "either an output file"),
        (["predict", checkpoint, tmp_path / "nope.nwb", "--out", out], "no such file"),
        (["evaluate", checkpoint, tmp_path], "a folder without NWB files"),
    ]
    for args, message in cases:
        code, output = run(*args, *(["--quiet"] if args[0] == "predict" else []))
        lines = output.strip().splitlines()
        assert code == 1 and len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], (
            output
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    code, output = run("evaluate", checkpoint, store.folder, "--tier", "bogus")
    assert (
        code == 2
        and "Invalid value for '--tier': 'bogus' is not one of 'test', 'validation', 'train'" in output
    )


def test_sigkill_of_predict_in_place_leaves_the_source_whole(small, tmp_path):
    source, _, checkpoint = small
    copy = shutil.copyfile(source, tmp_path / "session.nwb")
    digest = hashlib.sha256(copy.read_bytes()).hexdigest()
    moments = ["copy", "partial-appears", "fill", "partial-grows", "validate", "rename"]
    environment = {**os.environ, "TMPDIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(KILLER), str(checkpoint), str(copy), *moments],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == dict.fromkeys(moments, "SIGKILL")
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == digest, "the source changed"
    with open_nwb(copy) as nwbfile:  # and still reads as NWB, without predictions
        assert DEFAULT_NAME not in nwbfile.processing and len(
            nwbfile.processing["ophys"]["dff"]["traces"].data
        )
    code, output = run("predict", checkpoint, copy, "--in-place", "--quiet")  # a later run still works
    assert code == 0, output
    with open_nwb(copy) as nwbfile:
        assert DEFAULT_NAME in nwbfile.processing
