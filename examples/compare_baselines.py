"""Is the Transformer worth its cost on your data? ViV1T beside the paper's CNN and LN baselines.

    python examples/compare_baselines.py my_sessions/ --out my-comparison --budget 30

Each model (by default the CPU-sized Transformer `small`, the factorised 3-D CNN `fcnn` and the
linear-nonlinear `ln`) is trained from scratch on the same sessions, split and seed, for the same
minutes of training each (or --max-epochs), and scored on the same held-out repeats. Prints the table
(normalised correlation, fraction of the noise ceiling, trials/s) and writes OUT/comparison.json and
OUT/report/index.html. Run it again with more --models to add them to the same table.
"""

from __future__ import annotations

import argparse

from nwb_v1former.pipeline.compare import compare
from nwb_v1former.pipeline.train import RunOptions
from nwb_v1former.progress import Reporter
from nwb_v1former.train.config import TrainConfig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sources", nargs="+", help="NWB files or folders of them (or converted sessions).")
    parser.add_argument("--out", default="my-comparison", help="Folder to create (default: %(default)s).")
    parser.add_argument("--models", default="small,fcnn,ln", help="Presets (default: %(default)s).")
    parser.add_argument("--budget", type=float, default=None, help="Minutes of training per model.")
    parser.add_argument("--max-epochs", type=int, default=20, help="Epochs at most (default: %(default)s).")
    parser.add_argument("--window", type=int, default=None, help="Ticks per training window.")
    parser.add_argument("--overwrite", action="store_true", help="Start the comparison in --out over.")
    args = parser.parse_args(argv)

    table = compare(
        args.sources,
        args.out,
        models=tuple(args.models.split(",")),
        config=TrainConfig(max_epochs=args.max_epochs, window=args.window, warmup_steps=50),
        budget_minutes=args.budget,
        options=RunOptions(overwrite=args.overwrite, reporter=Reporter.for_terminal()),
    )
    for name, row in table["models"].items():
        ccnorm, ceiling = row["normalized_correlation"], row["fraction_of_ceiling"]
        print(
            f"{name} ({row['family']}): normalised correlation "
            + ("n/a (no repeats)" if ccnorm is None else f"{ccnorm:.3f}")
            + ("" if ceiling is None else f", {ceiling:.0%} of the noise ceiling")
            + f", {row['parameters']:,} parameters, {row['epochs']} epochs in "
            f"{row['training_seconds']:.0f} s, {row['trials_per_second']:.2f} trials/s"
        )
    print(f"table: {args.out}/comparison.json; report: {args.out}/report/index.html")


if __name__ == "__main__":
    main()
