"""The training loop on simulated sessions: repeatable, strategies do what they say, run folder complete."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from nwb_v1former.data.store import open_stores
from nwb_v1former.model.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from nwb_v1former.model.config import preset
from nwb_v1former.model.model import V1Former
from nwb_v1former.pipeline.train import RunOptions, finetune, pretrain
from nwb_v1former.train.clipping import AdaptiveClipper
from nwb_v1former.train.config import TrainConfig
from nwb_v1former.train.loss import poisson_loss
from nwb_v1former.train.sessions import training_subset

QUICK = {"max_epochs": 2, "warmup_steps": 5, "window": 60}
NO_REPORT = RunOptions(report=False)


def state(path: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(path)["state_dict"]


def test_pretrain_writes_a_complete_run_folder(sim_stores: Path, tmp_path: Path) -> None:
    result = pretrain([sim_stores], tmp_path / "run", model_preset="tiny", config=TrainConfig(**QUICK))
    run = tmp_path / "run"
    assert {p.name for p in run.iterdir()} == {
        "config.yaml",
        "metrics.jsonl",
        "best.ckpt",
        "last.ckpt",
        "evaluation.json",
        "report",
    }
    assert (run / "report" / "index.html").is_file()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [0, 1]
    assert all(np.isfinite(row["train_loss"]) and -1 <= row["validation_correlation"] <= 1 for row in rows)
    evaluation = json.loads((run / "evaluation.json").read_text())
    stores = open_stores(sim_stores)
    assert set(evaluation["sessions"]) == {store.key for store in stores}
    for store in stores:
        session = evaluation["sessions"][store.key]
        assert session["neurons"]["roi_id"] == store.roi_ids.tolist()
        assert len(session["neurons"]["single_trial_correlation"]) == store.n_neurons
        assert 0 < session["noise_ceiling"] <= 1  # the simulated test tier repeats its clips
    provenance = read_checkpoint(run / "best.ckpt")["extra"]["provenance"]
    assert provenance["trained_on_simulated_data"] is True
    assert provenance["evaluation"].keys() == evaluation["summary"].keys()
    assert result.best_epoch in (0, 1)


def test_same_seed_same_run(one_store: Path, tmp_path: Path) -> None:
    config = TrainConfig(**{**QUICK, "max_epochs": 1})
    for name in ("a", "b"):
        pretrain([one_store], tmp_path / name, model_preset="tiny", config=config, options=NO_REPORT)
    first, second = state(tmp_path / "a" / "last.ckpt"), state(tmp_path / "b" / "last.ckpt")
    assert all(torch.equal(first[key], second[key]) for key in first)
    other = TrainConfig(**{**QUICK, "max_epochs": 1, "seed": 1})
    pretrain([one_store], tmp_path / "c", model_preset="tiny", config=other, options=NO_REPORT)
    third = state(tmp_path / "c" / "last.ckpt")
    assert not all(torch.equal(first[key], third[key]) for key in first)


@pytest.fixture(scope="module")
def base_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An (untrained) tiny core as a fine-tuning base."""
    model = V1Former(preset("tiny"))
    return save_checkpoint(model, tmp_path_factory.mktemp("base") / "base.ckpt")


def core_changed(base: Path, run: Path) -> bool:
    before, after = state(base), state(run / "last.ckpt")
    return any(not torch.equal(before[key], after[key]) for key in before if key.startswith("core."))


def test_readout_strategy_keeps_the_core(one_store: Path, base_checkpoint: Path, tmp_path: Path) -> None:
    config = TrainConfig(strategy="readout", **QUICK)
    finetune([one_store], tmp_path / "run", base=base_checkpoint, config=config, options=NO_REPORT)
    assert not core_changed(base_checkpoint, tmp_path / "run")
    model = load_checkpoint(tmp_path / "run" / "best.ckpt")
    assert set(model.sessions) == {store.key for store in open_stores(one_store)}


@pytest.mark.parametrize(
    ("strategy", "unfreeze_after", "changed"), [("full", 0, True), ("gradual", 2, False)]
)
def test_full_and_gradual_train_the_core(
    one_store: Path, base_checkpoint: Path, tmp_path: Path, strategy: str, unfreeze_after: int, changed: bool
) -> None:
    config = TrainConfig(strategy=strategy, unfreeze_after=unfreeze_after, **QUICK)
    finetune([one_store], tmp_path / "run", base=base_checkpoint, config=config, options=NO_REPORT)
    assert core_changed(base_checkpoint, tmp_path / "run") is changed  # gradual: 2 epochs, still frozen
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all((row["core_lr"] > 0) is changed for row in rows)


def test_training_subset_is_nested_and_seeded(sim_stores: Path) -> None:
    store = open_stores(sim_stores)[0]
    small, large = (training_subset(store, fraction, seed=3) for fraction in (0.3, 0.7))
    train = int((store.trials.tier == "train").sum())
    assert small.sum() == round(0.3 * train) and large.sum() == round(0.7 * train)
    assert np.all(large[small])  # the 30% are inside the 70%
    assert np.all(store.trials.tier[large] == "train")
    assert np.array_equal(small, training_subset(store, 0.3, seed=3))


def test_poisson_loss_is_minimal_at_the_target() -> None:
    target = torch.tensor([[[0.5, 2.0, -0.3]]])
    best = poisson_loss(target.clamp_min(1e-8), target)
    for scale in (0.5, 0.9, 1.1, 2.0):
        assert poisson_loss((target * scale).clamp_min(1e-3), target) > best


def test_clipper_limits_to_a_percentile_of_past_norms() -> None:
    clipper = AdaptiveClipper(percentile=10, history=100)
    parameter = torch.nn.Parameter(torch.zeros(4))
    for norm in (1.0, 2.0, 3.0, 4.0, 5.0):
        parameter.grad = torch.full((4,), norm / 2)  # total norm = norm
        clipper([parameter])
    parameter.grad = torch.full((4,), 50.0)
    assert clipper([parameter]) == pytest.approx(100.0)
    limit = float(np.percentile([1, 2, 3, 4, 5], 10))
    assert float(parameter.grad.norm()) == pytest.approx(limit, rel=1e-5)
