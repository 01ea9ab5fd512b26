"""Baselines: the ViV1T paper's model comparison, measured on a simulated animal whose ceiling is known.

The paper (V-2025 code, Sensorium 2023) reports normalised correlation and trials/s: LN 0.247 at 37.2,
fCNN 0.551 at 34.7, DwiseNeuro 0.660 at 0.45, ViV1T 0.696 at 10.41. Here one new simulated animal is
trained from scratch by `compare` with each model under the same split, seed, recipe and time budget
(the Transformer as `tiny`: the published size takes ~20 s per trial on two CPU cores), and each is
scored on the same held-out repeated test clips. Figures: normalised correlation (CCnorm), fraction of
the simulator's true noise ceiling, trials/s (300-frame trials, one at a time, this machine), each also
as a ratio to the fCNN run in the same process; and ViV1T's relative gain over the fCNN beside the
paper's (0.696 / 0.551 - 1 = +26%).

Prints a table, whether the paper's ordering (ViV1T > fCNN > LN) holds here, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from nwb_v1former.nwb.convert import convert
from nwb_v1former.pipeline.compare import PAPER_TABLE, compare
from nwb_v1former.pipeline.train import RunOptions
from nwb_v1former.simulate import simulate_and_write
from nwb_v1former.train.config import TrainConfig

PAPER_NAMES = {"viv1t": "viv1t", "fcnn": "fcnn", "ln": "ln"}
"""Our family -> the paper's row it stands beside."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=150)
    parser.add_argument("--minutes", type=float, default=8.0, help="simulated recording length")
    parser.add_argument("--budget", type=float, default=3.0, help="minutes of training per model")
    parser.add_argument("--models", default="tiny,fcnn,ln", help="presets; one must be fcnn (the baseline)")
    parser.add_argument("--seed", type=int, default=200, help="simulation seed of the new animal")
    args = parser.parse_args()
    models = tuple(args.models.split(","))
    started = time.perf_counter()
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
        config = TrainConfig(window=75, warmup_steps=50, patience=10)
        table = compare(
            [root / "store"],
            root / "compare",
            models=models,
            config=config,
            budget_minutes=args.budget,
            options=RunOptions(report=False),
        )
    rows = table["models"]
    baseline = rows["fcnn"]
    print(
        f"{'model':<7}{'core':<7}{'CCnorm':>8}{'x fCNN':>8}{'of ceil':>9}{'params':>9}{'epochs':>7}"
        f"{'train s':>9}{'trials/s':>10}{'x fCNN':>8}   paper: CCnorm, trials/s"
    )
    for name, row in rows.items():
        paper_ccnorm, paper_rate = PAPER_TABLE[PAPER_NAMES[row["family"]]]
        print(
            f"{name:<7}{row['family']:<7}{row['normalized_correlation']:>8.3f}"
            f"{row['normalized_correlation'] / baseline['normalized_correlation']:>8.2f}"
            f"{row['fraction_of_ceiling']:>9.2f}{row['parameters']:>9,}{row['epochs']:>7}"
            f"{row['training_seconds']:>9.0f}{row['trials_per_second']:>10.2f}"
            f"{row['trials_per_second'] / baseline['trials_per_second']:>8.2f}"
            f"   {paper_ccnorm:.3f}, {paper_rate:g}"
        )
    transformer = next(name for name, row in rows.items() if row["family"] == "viv1t")
    gain = rows[transformer]["normalized_correlation"] / baseline["normalized_correlation"] - 1
    paper_gain = PAPER_TABLE["viv1t"][0] / PAPER_TABLE["fcnn"][0] - 1
    by_score = sorted(rows, key=lambda name: rows[name]["normalized_correlation"], reverse=True)
    families = [rows[name]["family"] for name in by_score]
    holds = families == ["viv1t", "fcnn", "ln"]
    print(
        f"ViV1T ({transformer}) over fCNN: {gain:+.1%} normalised correlation (paper: {paper_gain:+.1%}); "
        f"ordering here: {' > '.join(by_score)}; the paper's ViV1T > fCNN > LN "
        f"{'holds' if holds else 'does not hold'}. {time.perf_counter() - started:.0f} s, "
        f"{torch.get_num_threads()} threads."
    )
    figures = {
        name: {
            "ccnorm": round(row["normalized_correlation"], 4),
            "ccnorm_ratio_to_fcnn": round(
                row["normalized_correlation"] / baseline["normalized_correlation"], 3
            ),
            "fraction_of_ceiling": round(row["fraction_of_ceiling"], 4),
            "trials_per_second": row["trials_per_second"],
            "speed_ratio_to_fcnn": round(row["trials_per_second"] / baseline["trials_per_second"], 3),
            "epochs": row["epochs"],
            "training_seconds": row["training_seconds"],
            "parameters": row["parameters"],
        }
        for name, row in rows.items()
    }
    print(
        json.dumps(
            {
                "benchmark": "baselines",
                **figures,
                "viv1t_gain_over_fcnn": round(gain, 4),
                "paper_viv1t_gain_over_fcnn": round(paper_gain, 4),
                "paper_ordering_holds": holds,
                "budget_minutes": args.budget,
            }
        )
    )


if __name__ == "__main__":
    main()
