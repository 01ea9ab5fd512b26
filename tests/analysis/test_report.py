"""The run report: every figure a PNG the page shows, numbers that match the run, safe replacement."""

from __future__ import annotations

import dataclasses
import html
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from demo_helpers import first_session, small_demo
from nwb_v1former.cli.main import main

from nwb_v1former.analysis.report import write_report
from nwb_v1former.analysis.report_data import (
    ground_truth,
    load_run,
    per_neuron,
    readout_pixels,
    retinotopy_correlation,
)
from nwb_v1former.analysis.report_page import fit_warning
from nwb_v1former.digest import sha256
from nwb_v1former.errors import OutputExistsError
from nwb_v1former.model import V1Former
from nwb_v1former.model.checkpoint import load_checkpoint
from nwb_v1former.model.config import preset

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return small_demo(tmp_path_factory)[0]


def images(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', page)


def test_every_figure_is_a_png_the_page_shows(demo):
    report = demo / "run" / "report"
    key = first_session(demo / "run")
    expected = {
        "learning-curves.png",
        *(f"{kind}-{key}.png" for kind in ("correlation", "feve", "traces", "readout")),
        *(f"insilico-{analysis}.png" for analysis in ("tuning", "receptive_fields", "attention")),
    }
    pngs = {path.name for path in report.glob("*.png")}
    assert pngs == expected
    for name in pngs:
        data = (report / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000, name  # a drawn figure, not an empty canvas
    page = (report / "index.html").read_text()
    assert sorted(images(page)) == sorted(pngs)
    assert "<script" not in page and "http" not in page  # self-contained: nothing fetched from elsewhere


def test_page_states_the_runs_scores_and_the_true_retinotopy(demo):
    run = load_run(demo / "run")
    key = first_session(run.folder)
    page = html.unescape((demo / "run" / "report" / "index.html").read_text())
    summary = run.evaluation["summary"][key]
    assert f"{summary['single_trial_correlation']:.3f}" in page
    assert f"at epoch {run.evaluation['best_epoch']}" in page  # the learning curve's caption
    assert "SIMULATED" in page  # the tiny-sim core and the mouse are simulated
    model = load_checkpoint(demo / "run" / "best.ckpt")
    truth = ground_truth(run.store(key))
    assert truth is not None and truth.path.name == "sim-000.truth.npz"
    r_row, r_column = retinotopy_correlation(readout_pixels(model, key), truth.rf_center)
    assert (
        f"r = {r_column:.2f} along the frame's columns" in page and f"r = {r_row:.2f} along its rows" in page
    )
    assert f"{np.mean(truth.noise_ceiling):.3f}" in page  # the true ceiling beside the estimated one
    assert f"{summary['explainable_variance_explained']:.3f}" in page  # FEVE in the scores table
    feve = per_neuron(run.evaluation["sessions"][key], "explainable_variance_explained")
    defined = feve[np.isfinite(feve)]
    assert f"of the {len(defined)} neurons whose repeats" in page and f"{np.sum(defined < 0)} below 0" in page


def test_insilico_captions_state_the_results_and_their_checkpoint(demo):
    page = html.unescape((demo / "run" / "report" / "index.html").read_text())
    digest = sha256(demo / "run" / "best.ckpt")[:12]
    assert page.count(f"Computed from this run's best.ckpt (sha256 {digest})") == 3
    tuning = json.loads((demo / "run" / "insilico" / "tuning.json").read_text())["summary"]
    assert f"running modulation index {tuning['running']['median_modulation_index']:.3f}" in page
    fields = json.loads((demo / "run" / "insilico" / "receptive_fields.json").read_text())["summary"]
    assert f"{fields['mapped']} of {fields['rois']} ROIs mapped" in page
    attention = json.loads((demo / "run" / "insilico" / "attention.json").read_text())["summary"]
    assert f"over {attention['frames']} frames of {attention['trials']} test trials" in page


def test_insilico_results_of_another_checkpoint_are_flagged(demo, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(demo / "run", run, ignore=shutil.ignore_patterns("report"))
    details = json.loads((run / "insilico" / "tuning.json").read_text())
    details["provenance"]["checkpoint_sha256"] = "f" * 64
    (run / "insilico" / "tuning.json").write_text(json.dumps(details))
    page = html.unescape(write_report(run).read_text())
    assert "Computed from ANOTHER checkpoint than best.ckpt (sha256 ffffffffffff)" in page
    assert page.count("Computed from this run's best.ckpt") == 2


def test_readout_positions_map_the_grid_corners_onto_the_edge_patches():
    """mu = -1 / +1 reads the first / last patch of the tiny core: pixel centres 1.5 and 33.5 (rows),
    1.5 and 61.5 (columns) of the 36 x 64 frame; mu = 0 the frame's centre."""
    model = V1Former(preset("tiny"))
    model.add_session("s", np.arange(3), np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]))
    model.readouts["s"].position = torch.nn.Identity()  # mu = the normalised coordinates: -1, 0, +1
    np.testing.assert_allclose(readout_pixels(model, "s"), [[1.5, 1.5], [17.5, 31.5], [33.5, 61.5]])


def test_report_of_an_unfinished_run_shows_its_learning_curve(demo, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.yaml", "metrics.jsonl"):
        shutil.copy(demo / "run" / name, run / name)
    index = write_report(run)
    assert index == run / "report" / "index.html"
    page = index.read_text()
    assert images(page) == ["learning-curves.png"] and "No evaluation yet" in page


def test_cli_writes_elsewhere_replaces_a_report_and_refuses_anything_else(demo, tmp_path):
    out = tmp_path / "copy"
    for _ in range(2):  # the second run replaces the first report
        result = CliRunner().invoke(main, ["report", str(demo / "run"), "--out", str(out)])
        assert result.exit_code == 0 and result.output.strip() == f"Report: {out / 'index.html'}"
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("keep me")
    with pytest.raises(OutputExistsError):
        write_report(demo / "run", foreign)
    assert (foreign / "thesis.tex").read_text() == "keep me"
    for args, message in (
        (["report", str(demo / "run"), "--out", str(foreign)], "is not a report folder"),
        (["report", str(tmp_path)], "not a run folder"),
    ):
        result = CliRunner().invoke(main, args)
        lines = result.output.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1 and message in lines[0], result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy", "notes"]  # no partial folder left


def test_fit_warning_lists_why_a_run_did_not_learn_and_is_silent_otherwise(demo):
    run = load_run(demo / "run")
    reasons = ["the best validation correlation is -0.02, not above 0", "stopped by --max-epochs <improving>"]

    def warning(fit_check: dict | None) -> str:
        evaluation = {key: value for key, value in run.evaluation.items() if key != "fit_check"}
        if fit_check is not None:
            evaluation["fit_check"] = fit_check
        return fit_warning(dataclasses.replace(run, evaluation=evaluation))

    failed = warning({"learned": False, "reasons": reasons})
    assert failed.startswith('<div class="alert" role="alert"><h2>This model did not learn</h2>')
    assert (
        "<li>stopped by --max-epochs &lt;improving&gt;</li>" in failed and f"<li>{reasons[0]}</li>" in failed
    )
    assert "did not learn (no reason given)" in warning({"learned": False, "reasons": []})
    converged = warning({"learned": True, "reasons": reasons[1:]})  # learned, ended by --max-epochs
    assert "This run did not converge" in converged and "--resume" in converged
    assert (
        warning({"learned": True, "reasons": []}) == warning(None) == ""
    )  # runs from before the check: silent


def test_a_run_that_did_not_learn_is_flagged_at_the_top_and_on_its_results(demo, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(demo / "run", run, ignore=shutil.ignore_patterns("report"))
    evaluation = json.loads((run / "evaluation.json").read_text())
    evaluation["fit_check"] = {"learned": False, "reasons": ["the best validation correlation is -0.02"]}
    (run / "evaluation.json").write_text(json.dumps(evaluation))
    page = html.unescape(write_report(run).read_text())
    assert page.index('<div class="alert"') < page.index("<ul><li>command:")  # above all the run says
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page, re.S)
    caveated = [c for c in captions if c.startswith("FROM A MODEL THAT DID NOT LEARN. ")]
    assert len(caveated) == 4  # the readout positions and the three in-silico experiments
    assert "From a model that did not learn: see the warning at the top." in page
