"""Fine-tune a pretrained core on your own NWB sessions: a fresh readout per session, the core frozen.

    python examples/finetune_own_nwb.py my_sessions/ --out my-run

SOURCES are .nwb files or folders of them (calcium imaging with ROI responses and the stimulus movie
shown). They are converted into RUN/data/, a readout is fitted for each session on the `tiny-sim` core
(shipped, trained on SIMULATED data: use --base viv1t-2025 for real work), and the held-out scores are
printed. The run folder holds best.ckpt, metrics.jsonl and evaluation.json (per-neuron scores).
"""

from __future__ import annotations

import argparse

from nwb_v1former.pipeline.train import RunOptions, finetune
from nwb_v1former.progress import Reporter
from nwb_v1former.train.config import TrainConfig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sources", nargs="+", help="NWB files or folders of them.")
    parser.add_argument("--out", default="my-run", help="Run folder to create (default: %(default)s).")
    parser.add_argument("--base", default="tiny-sim", help="Core: tiny-sim, viv1t-2025 or a .ckpt.")
    parser.add_argument("--max-epochs", type=int, default=5, help="Epochs at most (default: %(default)s).")
    parser.add_argument(
        "--warmup-steps", type=int, default=None, help="Warm-up steps (default: scaled to the run)."
    )
    parser.add_argument("--overwrite", action="store_true", help="Replace an earlier run in --out.")
    args = parser.parse_args(argv)

    config = TrainConfig(strategy="readout", max_epochs=args.max_epochs, warmup_steps=args.warmup_steps)
    result = finetune(
        args.sources,
        args.out,
        base=args.base,
        config=config,
        options=RunOptions(overwrite=args.overwrite, reporter=Reporter.for_terminal()),
    )
    print(f"best validation correlation {result.best_score:.3f} at epoch {result.best_epoch}")
    for key, scores in result.evaluation["summary"].items():
        ceiling = scores["noise_ceiling"]
        print(
            f"  {key}: {scores['tier']} single-trial correlation {scores['single_trial_correlation']:.3f}"
            + ("" if ceiling is None else f" (noise ceiling {ceiling:.3f})")
        )
    print(f"checkpoint: {args.out}/best.ckpt")


if __name__ == "__main__":
    main()
