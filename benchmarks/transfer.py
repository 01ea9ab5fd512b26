"""Transfer: how much a pretrained core helps a new animal, against training from scratch.

A new simulated animal (a seed the shipped core never saw) is fine-tuned from the shipped `tiny-sim`
core with the `readout` (core frozen) and `full` (core at 1/10 of the head rate) strategies on 10%,
30% and 100% of its training trials, and the same `tiny` model is trained from scratch on all of
them. The figure is the normalised correlation (CCnorm) on the animal's held-out repeated test clips.
Goal: with 10% of the trials the pretrained core beats the scratch model trained on all of them.

Prints a table, then one JSON line of figures (each also as a ratio to the scratch model).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from nwb_v1former.nwb.convert import convert
from nwb_v1former.pipeline.train import RunOptions, finetune, pretrain
from nwb_v1former.simulate import simulate_and_write
from nwb_v1former.train.config import TrainConfig

FRACTIONS = (0.1, 0.3, 1.0)


def score(result) -> float:
    (values,) = result.evaluation["summary"].values()
    return float(values["normalized_correlation"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--max-epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=200, help="simulation seed of the new animal")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        simulate_and_write(
            root / "nwb",
            layout="allen",
            animals=1,
            progress=False,
            seed=args.seed,
            neurons=args.neurons,
            minutes=args.minutes,
            clip_seconds=5.0,
        )
        convert([root / "nwb"], root / "store", progress=False)
        rows = []
        common = {"max_epochs": args.max_epochs, "patience": 3, "warmup_steps": 50}
        started = time.perf_counter()
        scratch = pretrain(
            [root / "store"],
            root / "scratch",
            model_preset="tiny",
            config=TrainConfig(**common),
            options=RunOptions(report=False),
        )
        rows.append(("scratch", 1.0, score(scratch), time.perf_counter() - started))
        for strategy in ("readout", "full"):
            for fraction in FRACTIONS:
                started = time.perf_counter()
                config = TrainConfig(strategy=strategy, train_fraction=fraction, **common)
                result = finetune(
                    [root / "store"],
                    root / f"{strategy}-{fraction}",
                    base="tiny-sim",
                    config=config,
                    options=RunOptions(report=False),
                )
                rows.append((strategy, fraction, score(result), time.perf_counter() - started))
    baseline = rows[0][2]
    print(f"{'model':<22}{'train trials':>14}{'CCnorm':>10}{'x scratch':>11}{'seconds':>10}")
    for name, fraction, value, seconds in rows:
        label = "scratch (tiny)" if name == "scratch" else f"tiny-sim, {name}"
        print(f"{label:<22}{fraction:>13.0%} {value:>10.3f}{value / baseline:>11.2f}{seconds:>10.1f}")
    figures = {
        f"{name}_{round(fraction * 100)}pct": {
            "ccnorm": round(value, 4),
            "ratio_to_scratch": round(value / baseline, 3),
        }
        for name, fraction, value, _ in rows
    }
    best_10 = max(value for name, fraction, value, _ in rows if fraction == 0.1)
    figures["goal_10pct_pretrained_beats_scratch_100pct"] = bool(best_10 > baseline)
    print(json.dumps({"benchmark": "transfer", **figures}))


if __name__ == "__main__":
    main()
