"""#19.1 for every other command that writes: `--overwrite` replaces only that command's own earlier output
(or an empty folder), never a folder or file of the user's; refused before any work, all left as it was."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from viv1t_helpers import authors_run_folder

from hostile.checks import OVERLAP, QUICK, assert_refused, assert_succeeded, cli, partials, snapshot
from nwb_v1former.analysis.report import REPORT_FOLDER
from nwb_v1former.analysis.report_page import COMPARISON_TITLE, html_document
from nwb_v1former.pipeline.demo import DEMO

NOT_OURS = "so --overwrite does not replace it"
SIMULATE = ["--neurons", "15", "--minutes", "1", "--clip-seconds", "2", "--quiet"]
TINY_DEMO = ["--neurons", "15", "--minutes", "1.0", "--max-epochs", "1", "--quiet"]


def foreign_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "thesis.tex").write_text("chapter 1\n")
    return path


def test_simulate_and_demo_replace_only_their_own_folders(tmp_path: Path) -> None:
    mine = foreign_folder(tmp_path / "mine")
    before = snapshot(mine)
    assert_refused(cli("simulate", "--out", mine, "--overwrite", *SIMULATE), NOT_OURS)
    assert_refused(cli("demo", "--out", mine, "--overwrite", "--quiet"), NOT_OURS)
    assert snapshot(mine) == before

    sims = tmp_path / "sims"
    assert_succeeded(cli("simulate", "--out", sims, *SIMULATE))
    assert_succeeded(cli("simulate", "--out", sims, "--overwrite", "--seed", "5", *SIMULATE))
    assert (sims / "simulation.json").is_file()
    demo_like = tmp_path / "old-demo"  # what an earlier demo left: its simulated/ folder marks it
    shutil.copytree(sims, demo_like / "simulated")
    (tmp_path / "empty").mkdir()
    assert DEMO.recognise(demo_like) and DEMO.recognise(tmp_path / "empty")
    assert not DEMO.recognise(mine)


def test_checkpoints_and_sensorium_files_replace_only_their_own_kind(tmp_path: Path) -> None:
    notes = tmp_path / "notes.ckpt"
    notes.write_text("not a checkpoint\n")
    run = tmp_path / "authors-run"
    run.mkdir()
    before = snapshot(notes)
    assert_refused(cli("import-viv1t", run, "--out", notes, "--overwrite"), NOT_OURS)
    assert_refused(cli("convert-sensorium", run, "--out", notes, "--overwrite"), NOT_OURS)
    assert_refused(cli("convert-sensorium", run, "--out", run / "mouse.nwb"), "source")
    assert snapshot(notes) == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "authors-run",
        "notes.ckpt",
    ]


@pytest.mark.slow  # 6 s; the other commands' kinds run by default
def test_convert_sensorium_does_not_replace_predictions_made_from_its_file(
    source: Path, checkpoint: Path, tmp_path: Path
) -> None:
    """A predict copy of a convert-sensorium file keeps its source_script; it is predictions now."""
    predicted = tmp_path / "predicted.nwb"
    assert_succeeded(cli("predict", checkpoint, source, "--out", predicted, "--copy", "full", "--quiet"))
    with h5py.File(predicted, "a") as handle:  # as when the source was written by convert-sensorium
        del handle["general/source_script"]  # the simulator's
        handle["general/source_script"] = "nwb-v1former 0.1 convert-sensorium (neuroconv)"
    before = snapshot(predicted)
    sensorium = tmp_path / "mouse"
    sensorium.mkdir()
    assert_refused(cli("convert-sensorium", sensorium, "--out", predicted, "--overwrite"), NOT_OURS)
    assert snapshot(predicted) == before


def test_insilico_replaces_only_its_own_results(simulated, tmp_path: Path) -> None:
    _, _, checkpoint = simulated
    out = tmp_path / "results"
    out.mkdir()
    (out / "tuning.json").write_text('{"my": "own file"}\n')
    before = snapshot(out)
    tuning = ["insilico", "tuning", checkpoint, "--out", out, "--directions", "4"]
    assert_refused(cli(*tuning, "--overwrite"), NOT_OURS)
    assert snapshot(out) == before
    (out / "tuning.json").unlink()
    assert_succeeded(cli(*tuning))
    assert_succeeded(cli(*tuning, "--overwrite"))  # its own result: replaced
    assert (out / "tuning.png").is_file() and not (out / "receptive_fields.json").exists()


@pytest.mark.slow  # 4 s; simulate's own kind is checked in the first test
def test_simulate_does_not_replace_a_simulation_the_user_added_to(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    assert_succeeded(cli("simulate", "--out", out, *SIMULATE))
    (out / "notes.txt").write_text("added by hand\n")  # beside simulation.json, which does not name it
    before = snapshot(out)
    assert_refused(cli("simulate", "--out", out, "--overwrite", *SIMULATE), str(out), NOT_OURS)
    assert snapshot(out) == before and partials(tmp_path) == []
    (out / "notes.txt").unlink()
    assert_succeeded(cli("simulate", "--out", out, "--overwrite", "--seed", "1", *SIMULATE))
    assert '"seed": 1' in (out / "simulation.json").read_text() and partials(tmp_path) == []


def earlier_demo(folder: Path, checkpoint: Path, source: Path | None = None) -> Path:
    """A demo folder as the demo's steps leave it, each entry written by the command the demo runs;
    predictions.nwb (10 s of predict) only with `source`, as a demo stopped before predict leaves it."""
    assert_succeeded(cli("simulate", "--out", folder / "simulated", *SIMULATE))
    assert_succeeded(cli("convert", folder / "simulated", "--out", folder / "data", "--quiet"))
    (folder / "run").mkdir()
    shutil.copyfile(checkpoint, folder / "run" / "best.ckpt")
    if source is not None:
        assert_succeeded(cli("predict", checkpoint, source, "--out", folder / "predictions.nwb", "--quiet"))
    return folder


def test_demo_replaces_only_a_demo_nobody_added_to_and_keeps_its_core(
    tmp_path: Path, source: Path, checkpoint: Path
) -> None:
    earlier = earlier_demo(tmp_path / "demo", checkpoint)
    before = snapshot(earlier)
    # the core it would fine-tune sits in the folder the demo would delete first
    core = earlier / "run" / "best.ckpt"
    assert_refused(cli("demo", "--out", earlier, "--overwrite", "--from", core, "--quiet"), OVERLAP)
    # an earlier demo passes the kind check: what stops this one is the missing core, before any work
    missing = cli("demo", "--out", earlier, "--overwrite", "--from", tmp_path / "missing.ckpt", "--quiet")
    assert_refused(missing, "missing.ckpt: no such checkpoint file")
    for added in (earlier / "run" / "notes.txt", earlier / "thesis.tex", earlier / "data" / "notes.txt"):
        added.write_text("mine\n")  # a demo the user added to is theirs now
        assert_refused(cli("demo", "--out", earlier, "--overwrite", "--quiet"), str(earlier), NOT_OURS)
        added.unlink()
    shutil.copyfile(source, earlier / "predictions.nwb")  # an NWB file of the user's under the demo's name
    assert_refused(cli("demo", "--out", earlier, "--overwrite", "--quiet"), NOT_OURS)
    (earlier / "predictions.nwb").unlink()
    assert snapshot(earlier) == before and partials(tmp_path) == []


@pytest.mark.slow  # a whole demo: about 45 s on two cores, even with the micro core
def test_demo_replaces_an_earlier_demo(tmp_path: Path, source: Path, checkpoint: Path, base: Path) -> None:
    earlier = earlier_demo(tmp_path / "demo", checkpoint, source)
    stale = snapshot(earlier / "predictions.nwb")
    assert_succeeded(cli("demo", "--out", earlier, "--overwrite", "--from", base, *TINY_DEMO))
    assert snapshot(earlier / "predictions.nwb") != stale
    assert (earlier / "run" / "report" / "index.html").is_file() and partials(tmp_path) == []


@pytest.mark.slow  # 7 s; tests/analysis/test_report.py checks what report replaces
def test_report_replaces_only_a_report_it_wrote(source: Path, base: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert_succeeded(cli("finetune", source, "--out", run, "--from", base, *QUICK))
    site = tmp_path / "site"  # a web page of the lab's: index.html and a figure, as a report holds
    site.mkdir()
    (site / "index.html").write_text("<!DOCTYPE html><html><title>Lab page</title></html>\n")
    (site / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    before = snapshot(site)
    assert_refused(cli("report", run, "--out", site), str(site), "is not a report folder nwb-v1former wrote")
    assert snapshot(site) == before

    out = tmp_path / "report"
    assert_succeeded(cli("report", run, "--out", out))
    (out / "notes.txt").write_text("mine\n")  # a report the user added to is theirs now
    mine = snapshot(out)
    assert_refused(cli("report", run, "--out", out), "is not a report folder")
    assert snapshot(out) == mine
    (out / "notes.txt").unlink()
    assert_succeeded(cli("report", run, "--out", out))  # its own earlier report: replaced
    assert (out / "index.html").is_file() and partials(tmp_path) == []
    comparison = tmp_path / "cmp-report"  # what `compare` leaves as its report: replaced by the next one
    comparison.mkdir()
    (comparison / "index.html").write_text(html_document(f"{COMPARISON_TITLE}cmp", "<table></table>"))
    shutil.copyfile(out / "learning-curves.png", comparison / "comparison.png")
    assert REPORT_FOLDER.recognise(comparison)


def test_insilico_replaces_only_result_files_of_their_format(simulated, tmp_path: Path) -> None:
    out = tmp_path / "results"
    tuning = ["insilico", "tuning", simulated[2], "--out", out, "--directions", "4", "--quiet"]
    assert_succeeded(cli(*tuning))
    figure, arrays = (out / "tuning.png").read_bytes(), (out / "tuning.npz").read_bytes()
    # beside our tuning.json, under the names it writes: a folder of the user's, then a file of theirs
    (out / "tuning.png").unlink()
    (out / "tuning.png").mkdir()
    (out / "tuning.png" / "cell-1.png").write_bytes(figure)
    before = snapshot(out)
    assert_refused(cli(*tuning, "--overwrite"), str(out / "tuning.png"), NOT_OURS)
    assert snapshot(out) == before
    shutil.rmtree(out / "tuning.png")
    (out / "tuning.png").write_bytes(figure)
    (out / "tuning.npz").write_text("orientation by hand: 45 deg\n")
    before = snapshot(out)
    assert_refused(cli(*tuning, "--overwrite"), str(out / "tuning.npz"), NOT_OURS)
    assert snapshot(out) == before and partials(tmp_path) == []
    (out / "tuning.npz").write_bytes(arrays)
    assert_succeeded(cli(*tuning, "--overwrite"))  # all three its own: replaced


def test_import_viv1t_writes_nothing_into_the_authors_run_folder(
    reference_small: dict, checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # relative paths, as typed
    run = authors_run_folder(Path("viv1t"), reference_small)
    theirs = Path(shutil.copyfile(run / "ckpt" / "model.pt", "weights.pt"))  # a torch file, not ours
    before = snapshot(run, theirs)
    assert_refused(cli("import-viv1t", run, "--out", run / "ours.ckpt"), OVERLAP)
    assert_refused(cli("import-viv1t", run / "ckpt", "--out", run / "ours.ckpt"), OVERLAP)  # run/ckpt given
    assert_refused(cli("import-viv1t", run, "--out", theirs, "--overwrite"), "weights.pt", NOT_OURS)
    assert snapshot(run, theirs) == before and partials(tmp_path) == []

    out = Path(shutil.copyfile(checkpoint, "earlier.ckpt"))  # an nwb-v1former checkpoint: replaced
    assert_succeeded(cli("import-viv1t", run / "ckpt", "--out", out, "--overwrite"))
    assert snapshot(run) == {path: digest for path, digest in before.items() if path != theirs}


@pytest.mark.parametrize(
    "script",
    [None, np.bytes_(b"\xff\xfe not UTF-8 text")],
    ids=["a-group", "undecodable-bytes"],
)
def test_convert_sensorium_judges_an_odd_source_script_in_one_line(tmp_path: Path, script) -> None:
    out = tmp_path / "mouse.nwb"  # HDF5 of the user's whose general/source_script is no text we wrote
    with h5py.File(out, "w") as handle:
        if script is None:
            handle.create_group("general/source_script")
        else:
            handle["general/source_script"] = script
    before = snapshot(out)
    (tmp_path / "mouse").mkdir()
    result = cli("convert-sensorium", tmp_path / "mouse", "--out", out, "--overwrite", "--quiet")
    assert_refused(result, str(out), NOT_OURS)
    assert snapshot(out) == before
