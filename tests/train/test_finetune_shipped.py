"""The shipped tiny-sim core fine-tunes to a new simulated animal and predicts its held-out repeats."""

from __future__ import annotations

from pathlib import Path

from nwb_v1former.model.checkpoint import read_checkpoint
from nwb_v1former.nwb.convert import convert
from nwb_v1former.pipeline.train import RunOptions, finetune
from nwb_v1former.simulate import simulate_and_write
from nwb_v1former.train.config import TrainConfig

# Measured on this 2-minute animal after 5 readout epochs: 0.50 single-trial correlation against a
# noise ceiling of 0.71 (0.70 of it; 0.74 on 3 minutes); the epoch-0 core shipped before scored 0.02, so
# 0.4 fails when the core or the fine-tuning breaks.
MIN_FRACTION_OF_CEILING = 0.4


def test_readout_finetuning_of_the_shipped_core_reaches_a_fraction_of_the_noise_ceiling(
    tmp_path: Path,
) -> None:
    simulate_and_write(
        tmp_path / "nwb", layout="allen", progress=False, seed=7, neurons=60, minutes=2.0, clip_seconds=5.0
    )
    convert([tmp_path / "nwb"], tmp_path / "stores", progress=False)
    config = TrainConfig(strategy="readout", max_epochs=5, warmup_steps=10, window=60)
    result = finetune(
        [tmp_path / "stores"],
        tmp_path / "run",
        base="tiny-sim",
        config=config,
        options=RunOptions(report=False),
    )
    ((key, summary),) = result.evaluation["summary"].items()
    assert summary["tier"] == "test" and summary["noise_ceiling"] > 0.3, key
    fraction = summary["single_trial_correlation"] / summary["noise_ceiling"]
    assert fraction > MIN_FRACTION_OF_CEILING, (key, summary)
    provenance = read_checkpoint(tmp_path / "run" / "best.ckpt")["extra"]["provenance"]
    assert provenance["base"]["name"] == "tiny-sim" and provenance["trained_on_simulated_data"] is True
