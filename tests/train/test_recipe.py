"""The recipe fitted to the run (warm-up scaled to its planned steps, warnings) and the fit check (a run
that did not learn, or did not converge, is flagged wherever its results are shown)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from nwb_v1former.cli.main import main

from nwb_v1former.data.store import open_stores
from nwb_v1former.model.checkpoint import read_checkpoint
from nwb_v1former.model.config import preset
from nwb_v1former.train.config import TrainConfig
from nwb_v1former.train.fit_check import check_fit
from nwb_v1former.train.recipe import PAPER_WARMUP_STEPS, fit_recipe, scaled_warmup
from nwb_v1former.train.sessions import training_sessions


@pytest.mark.parametrize(
    ("per_epoch", "max_epochs", "patience", "expected"),
    [
        (18, 20, 10, 36),  # a tenth of the 360 planned steps: the user's 20-epoch run leaves warm-up
        (18, 400, 10, 90),  # half the patience: five epochs of 18 steps
        (18, 5, 10, 9),
        (250, 400, 10, PAPER_WARMUP_STEPS),  # the paper's scale: its own 400 steps
        (1, 1, 1, 1),
    ],
)
def test_scaled_warmup(per_epoch: int, max_epochs: int, patience: int, expected: int) -> None:
    config = TrainConfig(max_epochs=max_epochs, patience=patience)
    assert scaled_warmup(config, per_epoch) == expected


def test_recipe_resolves_for_the_sessions_and_warns_where_the_schedule_cannot_work(one_store: Path) -> None:
    stores = open_stores(one_store)
    rule = preset("tiny").window
    short = TrainConfig(strategy="readout", window=60, max_epochs=3, patience=10, warmup_steps=400)
    sessions = training_sessions(stores, short, rule)
    recipe = fit_recipe(short, sessions, global_batch_size=1)
    assert recipe.steps_per_epoch == max(len(session.windows) for session in sessions)
    assert recipe.config.warmup_steps == 400 and not recipe.scaled_warmup
    assert len(recipe.warnings) == 2
    assert "takes over half of the run's" in recipe.warnings[0]
    assert "--max-epochs 3 is not above the patience (10)" in recipe.warnings[1]

    scaled = fit_recipe(TrainConfig(strategy="readout", window=60), sessions, global_batch_size=2)
    assert scaled.steps_per_epoch == recipe.steps_per_epoch // 2
    assert scaled.config.warmup_steps == scaled_warmup(scaled.config, scaled.steps_per_epoch)
    assert scaled.warnings == ()
    line = scaled.describe(len(sessions), 2)
    assert f"warm-up {scaled.config.warmup_steps} steps (scaled" in line and "core frozen" in line


def test_fit_check_flags_what_did_not_learn_and_what_did_not_converge() -> None:
    fine = check_fit(0.31, best_epoch=7, epochs=12, stopped_early=True)
    assert fine.ok and fine.learned and fine.converged
    for score in (0.0, -0.05, math.nan, -math.inf):
        flagged = check_fit(score, best_epoch=0, epochs=12, stopped_early=True)
        assert not flagged.learned and len(flagged.reasons) == 1
        assert flagged.reasons[0].startswith("did not learn")
    cut = check_fit(0.2, best_epoch=4, epochs=5, stopped_early=False)
    assert cut.learned and not cut.converged and cut.reasons[0].startswith("not converged")
    assert cut.to_dict() == {"learned": True, "converged": False, "reasons": list(cut.reasons)}


def test_a_short_finetune_resolves_its_warmup_and_is_flagged_everywhere(
    one_store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    short = ["--max-epochs", "2", "--window", "60", "--no-report"]
    result = CliRunner().invoke(main, ["finetune", str(one_store), "--out", str(out), *short])
    assert result.exit_code == 0, result.output
    recipe_lines = [line for line in result.output.splitlines() if "recipe: readout" in line]
    assert len(recipe_lines) == 1
    config = yaml.safe_load((out / "config.yaml").read_text())
    per_epoch = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])["step"]
    expected = scaled_warmup(TrainConfig(max_epochs=2), per_epoch)
    assert config["train"]["warmup_steps"] == expected
    assert f"warm-up {expected} steps (scaled" in recipe_lines[0]
    assert "warning: --max-epochs 2 is not above the patience (10)" in result.output

    check = json.loads((out / "evaluation.json").read_text())["fit_check"]
    assert check["converged"] is False and check["reasons"][-1].startswith("not converged")
    assert read_checkpoint(out / "best.ckpt")["extra"]["provenance"]["fit_check"] == check
    assert f"  FLAGGED, {check['reasons'][-1]}" in result.output.splitlines()
