"""#28.5: the tool's own files (a store, a run folder) read back damaged are one line naming the file and
the fix, never a traceback, never evaluated as if whole."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from hostile.checks import QUICK, assert_refused, assert_succeeded, cli


def _edit_json(path: Path, change: Callable[[dict], None]) -> None:
    values = json.loads(path.read_text())
    change(values)
    path.write_text(json.dumps(values))


STORE_DAMAGES = {
    "meta.json garbage": (lambda s: (s / "meta.json").write_text("{not json"), "meta.json cannot be read"),
    "no schema_version": (
        lambda s: _edit_json(s / "meta.json", lambda m: m.pop("schema_version")),
        "store schema None is not 1",
    ),
    "responses with fewer ticks": (
        lambda s: np.save(s / "responses.npy", np.load(s / "responses.npy")[:-7]),
        "responses.npy has",
    ),
    "responses with fewer neurons": (
        lambda s: np.save(s / "responses.npy", np.load(s / "responses.npy")[:, :-1]),
        "responses.npy is",
    ),
    "meta.json's ticks disagree": (
        lambda s: _edit_json(s / "meta.json", lambda m: m.update(ticks=m["ticks"] + 1)),
        "ticks, meta.json",
    ),
    "a missing array": (lambda s: (s / "video.npy").unlink(), "video.npy cannot be read"),
}


@pytest.mark.parametrize("damage", list(STORE_DAMAGES))
def test_a_damaged_store_is_one_line(simulated, base: Path, tmp_path: Path, damage: str) -> None:
    store = Path(shutil.copytree(simulated[1].folder, tmp_path / "data" / simulated[1].key))
    change, expected = STORE_DAMAGES[damage]
    change(store)
    result = cli("finetune", store, "--out", tmp_path / "run", "--from", base, *QUICK)
    assert_refused(result, str(store), expected, "convert the session again")


@pytest.fixture(scope="module")
def finished_run(simulated, base: Path, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("own") / "run"
    assert_succeeded(cli("finetune", simulated[1].folder, "--out", run, "--from", base, *QUICK))
    return run


RUN_DAMAGES = {
    "config.yaml garbage": (lambda r: (r / "config.yaml").write_text("train: [unclosed"), "config.yaml"),
    "config.yaml a list": (lambda r: (r / "config.yaml").write_text("- 1\n- 2\n"), "config.yaml"),
    "config.yaml wrong types": (
        lambda r: (r / "config.yaml").write_text(
            (r / "config.yaml").read_text().replace("stores:", "stores: 5\n  x:")
        ),
        "config.yaml",
    ),
    "metrics.jsonl garbage line": (
        lambda r: (r / "metrics.jsonl").write_text((r / "metrics.jsonl").read_text() + "{torn\n"),
        "metrics.jsonl cannot be used (line 2",
    ),
}


@pytest.mark.parametrize("damage", list(RUN_DAMAGES))
def test_a_damaged_run_folder_is_one_line_on_resume(finished_run: Path, tmp_path: Path, damage: str) -> None:
    run = Path(shutil.copytree(finished_run, tmp_path / "run"))
    change, expected = RUN_DAMAGES[damage]
    change(run)
    result = cli("finetune", "--out", run, "--resume", "--max-epochs", "2", "--quiet", "--no-report")
    assert_refused(result, expected, "the folder is damaged", "--overwrite")


def test_a_foreign_truth_file_beside_a_source_never_stops_a_run(
    source: Path, base: Path, tmp_path: Path
) -> None:
    """`<session>.truth.npz` is read only when it is this simulator's truth of this session; another
    file of that name (another tool's arrays, or damaged bytes) leaves the report without ground truth."""
    truth = source.with_suffix(".truth.npz")
    np.savez(truth, rf_centre=np.zeros((3, 2)), ceiling=np.ones(3))  # another tool's, other names
    run = tmp_path / "run"
    quick_with_report = [option for option in QUICK if option != "--no-report"]
    assert_succeeded(cli("finetune", source, "--out", run, "--from", base, *quick_with_report))
    assert (run / "report" / "index.html").is_file()
    truth.write_bytes(truth.read_bytes()[:100])  # damaged: cut short
    assert_succeeded(cli("report", run))


@pytest.mark.parametrize("damaged", ["evaluation.json", "insilico/tuning.json"])
def test_a_damaged_result_file_is_one_line_in_the_report(
    finished_run: Path, tmp_path: Path, damaged: str
) -> None:
    run = Path(shutil.copytree(finished_run, tmp_path / "run"))
    (run / "insilico").mkdir(exist_ok=True)
    (run / "insilico" / "tuning.png").write_bytes(b"")  # a result is its JSON beside its figure
    (run / damaged).write_text('{"provenance": "torn')
    assert_refused(cli("report", run), f"{Path(damaged).name} cannot be used (", "--overwrite")
