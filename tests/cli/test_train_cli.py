"""pretrain / finetune through the CLI: bad input is one line and exit 1, nothing half-written."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from nwb_v1former.cli.main import main

from nwb_v1former.data.store import SessionStore, Trials
from nwb_v1former.model.checkpoint import save_checkpoint
from nwb_v1former.model.config import ModelConfig, preset
from nwb_v1former.model.model import V1Former

QUICK = ["--max-epochs", "1", "--window", "60", "--warmup-steps", "5", "--quiet", "--no-report"]


def run(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output.strip().splitlines()


def store_with_tiers(sim_stores: Path, tmp_path: Path, retier: dict[str, str]) -> Path:
    """A copy of one simulated store whose trials of some tiers are moved to others."""
    source = sorted(path.parent for path in sim_stores.glob("*/meta.json"))[0]
    folder = tmp_path / "stores" / source.name
    shutil.copytree(source, folder)
    trials = SessionStore(folder).trials
    tier = np.array([retier.get(t, t) for t in trials.tier.tolist()], dtype="<U16")
    Trials.to_npz(replace(trials, tier=tier), folder / "trials.npz")
    return folder


@pytest.mark.parametrize(
    ("retier", "message"),
    [
        ({"train": "test"}, "the training tier is empty"),
        ({"validation": "test"}, "too few trials: no validation trial"),
    ],
)
def test_sessions_that_cannot_be_trained_are_one_line(
    sim_stores: Path, tmp_path: Path, retier: dict[str, str], message: str
) -> None:
    store = store_with_tiers(sim_stores, tmp_path, retier)
    code, lines = run("pretrain", str(store), "--out", str(tmp_path / "run"), "--preset", "tiny", *QUICK)
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith(f"Error: {store}: ") and message in lines[0]
    assert not (tmp_path / "run" / "best.ckpt").exists()


def test_a_core_for_other_frames_is_refused(sim_stores: Path, tmp_path: Path) -> None:
    config = ModelConfig.from_dict({**preset("tiny").to_dict(), "frame_shape": [72, 128]})
    checkpoint = save_checkpoint(V1Former(config), tmp_path / "wide.ckpt")
    code, lines = run(
        "finetune", str(sim_stores), "--out", str(tmp_path / "run"), "--from", str(checkpoint), *QUICK
    )
    assert code == 1
    assert lines == [
        f"Error: {checkpoint}: its core takes 72x128 frames but converted sessions are 36x64; "
        "use a checkpoint trained on the common dataset"
    ]


def test_an_unknown_base_is_one_line(sim_stores: Path, tmp_path: Path) -> None:
    code, lines = run(
        "finetune", str(sim_stores), "--out", str(tmp_path / "run"), "--from", "nope.ckpt", *QUICK
    )
    assert code == 1 and len(lines) == 1 and lines[0].startswith("Error: nope.ckpt: no such checkpoint file")


def test_a_finished_run_is_not_overwritten(sim_stores: Path, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "best.ckpt").write_bytes(b"keep")
    code, lines = run("pretrain", str(sim_stores), "--out", str(tmp_path / "run"), "--preset", "tiny", *QUICK)
    assert code == 1 and "already holds a run" in lines[0]
    assert (tmp_path / "run" / "best.ckpt").read_bytes() == b"keep"


def test_finetune_converts_nwb_sources_into_the_run(sim_nwb: Path, tmp_path: Path) -> None:
    base = save_checkpoint(V1Former(preset("tiny")), tmp_path / "base.ckpt")
    nwb = sorted(sim_nwb.glob("*.nwb"))[0]
    code, lines = run("finetune", str(nwb), "--out", str(tmp_path / "run"), "--from", str(base), *QUICK)
    assert code == 0, lines
    assert lines[0].startswith(f"Run {tmp_path / 'run'}: 1 session(s), 1 epochs")
    assert "noise ceiling" in lines[1]
    stores = list((tmp_path / "run" / "data").glob("*/meta.json"))
    assert len(stores) == 1
