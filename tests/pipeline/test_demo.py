"""`nwb-v1former demo`: the whole pipeline on a simulated mouse, outputs a lab can open, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from demo_helpers import small_demo
from nwb_checks import serious_findings
from nwb_v1former.cli.main import main
from pynwb import NWBHDF5IO

from nwb_v1former.errors import ConfigError
from nwb_v1former.nwb.write import DEFAULT_NAME
from nwb_v1former.pipeline.demo import demo
from nwb_v1former.pipeline.demo_config import DemoConfig
from nwb_v1former.simulate import load_truth


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return small_demo(tmp_path_factory)


def test_demo_prints_where_everything_is_and_the_score_next_to_the_true_ceiling(small):
    out, printed = small
    evaluation = json.loads((out / "run" / "evaluation.json").read_text())
    (key,) = evaluation["summary"]
    scores = evaluation["summary"][key]
    ceiling = float(
        np.mean(load_truth(out / "simulated" / "sim-000.truth.npz", ("noise_ceiling",))["noise_ceiling"])
    )
    assert f"single-trial correlation {scores['single_trial_correlation']:.3f}" in printed
    assert f"noise ceiling {ceiling:.3f} (true, from the simulator)" in printed
    for path in ("simulated/sim-000.nwb", "run/best.ckpt", "predictions.nwb", "run/report/index.html"):
        assert (out / path).is_file() and str(out / path) in printed, path
    assert str(out / "run" / "insilico") in printed
    for name in ("tuning.json", "receptive_fields.npz", "attention.png"):
        assert (out / "run" / "insilico" / name).is_file(), name
    assert sorted(p.name for p in out.iterdir()) == ["data", "predictions.nwb", "run", "simulated"]
    # one epoch cannot stop early: the summary says the run did not converge, and what to do
    (reason,) = [r for r in evaluation["fit_check"]["reasons"] if r.startswith("not converged")]
    assert f"FLAGGED, {reason}" in printed.splitlines()


def test_predictions_file_passes_nwbinspector_and_records_the_runs_evaluation(small):
    out, _ = small
    predictions = out / "predictions.nwb"
    assert serious_findings(predictions) == []  # no schema error, no CRITICAL / ERROR / best-practice finding
    evaluation = json.loads((out / "run" / "evaluation.json").read_text())
    with NWBHDF5IO(predictions, "r", load_namespaces=True) as io:
        module = io.read().processing[DEFAULT_NAME]
        recorded = json.loads(module["model"].evaluation)["session"]
        assert module["model"].trained_on_simulated_data
        tuning = module["insilico_tuning"].to_dataframe()
        fields = module["insilico_receptive_fields"].to_dataframe()
        assert len(module["insilico_attention"]) == 20  # 5 attention summaries x 4 behaviours
    rois = np.load(out / "data" / next(p.name for p in (out / "data").iterdir()) / "roi_ids.npy")
    assert tuning["roi_id"].tolist() == fields["roi_id"].tolist() == rois.tolist()
    key = recorded.pop("key")
    assert recorded == evaluation["summary"][key]  # predict scored the same test trials with best.ckpt


def test_demo_refuses_an_existing_folder_and_leaves_nothing_behind_on_error(tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    result = CliRunner().invoke(main, ["demo", "--out", str(taken), "--quiet"])
    assert (
        result.exit_code == 1 and "already exists" in result.output and len(result.output.splitlines()) == 1
    )
    too_short = tmp_path / "short"  # 0.2 min cannot hold the repeated clips: the simulator refuses
    result = CliRunner().invoke(main, ["demo", "--out", str(too_short), "--minutes", "0.2", "--quiet"])
    assert result.exit_code == 1 and "session too short" in result.output, result.output
    assert not too_short.exists()
    result = CliRunner().invoke(main, ["demo", "--out", str(too_short), "--from", "missing.ckpt", "--quiet"])
    assert result.exit_code == 1 and "missing.ckpt: no such checkpoint file" in result.output, result.output
    assert not too_short.exists()
    with pytest.raises(ConfigError, match="max_epochs"):
        DemoConfig(max_epochs=0)


@pytest.mark.slow
def test_default_demo_predicts_held_out_repeats_above_chance(tmp_path):
    """The README's first command with its defaults: the readout fitted on the shipped core predicts the
    new mouse's held-out clips above chance, and the file it writes is clean NWB."""
    result = demo(tmp_path / "demo", progress=False)
    assert result.scores["single_trial_correlation"] > 0.05 and result.true_ceiling > 0.5
    assert serious_findings(result.predictions) == []
