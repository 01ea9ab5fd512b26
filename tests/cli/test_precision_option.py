"""`--precision` from the command line: what `auto` picks is said in --help, the precision used is
recorded in predict's JSON and NWB provenance and in evaluate's JSON, and an unknown one is refused."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from nwb_v1former.cli.main import main
from prediction_helpers import checkpoint_for, simulated_session

from nwb_v1former.nwb.discover import open_nwb


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    root = tmp_path_factory.mktemp("precision-cli")
    source, store = simulated_session(root, "openscope", minutes=0.75, clip_seconds=2.0, planes=1)
    return source, store, checkpoint_for(store, root / "micro.ckpt")


def run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(arg) for arg in args])
    return result.exit_code, result.output


def test_predict_records_the_precision_it_ran_at(session, tmp_path) -> None:
    source, _, checkpoint = session
    code, output = run(
        "predict", checkpoint, source, "--out", tmp_path / "p.nwb", "--precision", "bf16", "--json", "--quiet"
    )
    assert code == 0, output
    (result,) = json.loads(output)
    assert result["inference"]["predictions"]["precision"] == "bf16"
    assert result["inference"]["scoring"]["precision"] == "bf16"
    with open_nwb(tmp_path / "p.nwb") as nwbfile:
        model = nwbfile.processing["v1former_predictions"]["model"]
        assert json.loads(model.evaluation)["inference"] == {"precision": "bf16"}


def test_evaluate_records_the_precision_it_ran_at(session) -> None:
    _, store, checkpoint = session
    code, output = run("evaluate", checkpoint, store.folder, "--precision", "float32", "--json", "--quiet")
    assert code == 0, output
    (scores,) = json.loads(output)
    assert scores["inference"]["precision"] == "float32"


@pytest.mark.parametrize("command", [["predict"], ["evaluate"], ["insilico", "tuning"]])
def test_help_says_what_auto_picks_and_an_unknown_precision_is_refused(command: list[str]) -> None:
    code, output = run(*command, "--help")
    assert code == 0 and "--precision" in output and "compute capability 8.0" in output
    code, output = run(*command, "CHECKPOINT", "SOURCE", "--precision", "fp16")
    assert code == 2 and "fp16" in output
