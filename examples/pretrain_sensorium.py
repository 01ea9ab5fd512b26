"""Pretrain a core on Sensorium 2023 mice: each mouse folder is converted to NWB first, then trained on.

    python examples/pretrain_sensorium.py sensorium/dynamic29156-11-10-Video-* --out sensorium-run

Sensorium data are CC BY-NC-ND 4.0: convert them for your own use, never redistribute the files. Each
mouse folder (the competition's .npy tree) becomes one NWB file under --nwb-dir (through neuroconv), so
the training reads them with the same NWB reader as any other session. Defaults are a tiny smoke run;
for a real core use --preset small or viv1t-2025, many more epochs and a GPU.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nwb_v1former.pipeline.train import RunOptions, pretrain
from nwb_v1former.progress import Reporter
from nwb_v1former.sources.sensorium import convert_sensorium
from nwb_v1former.train.config import TrainConfig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folders", nargs="+", help="Sensorium 2023 mouse folders.")
    parser.add_argument(
        "--nwb-dir", default="sensorium-nwb", help="Where the NWB files go (default: %(default)s)."
    )
    parser.add_argument("--out", default="sensorium-run", help="Run folder to create (default: %(default)s).")
    parser.add_argument(
        "--preset", default="tiny", choices=["tiny", "small", "viv1t-2025"], help="Model size."
    )
    parser.add_argument("--max-epochs", type=int, default=2, help="Epochs at most (default: %(default)s).")
    parser.add_argument("--window", type=int, default=60, help="Ticks per training window.")
    parser.add_argument(
        "--warmup-steps", type=int, default=None, help="Warm-up steps (default: scaled to the run)."
    )
    args = parser.parse_args(argv)

    nwb_files = []
    for folder in map(Path, args.folders):
        out = Path(args.nwb_dir) / f"{folder.name}.nwb"
        if not out.exists():  # converting is the slow part; a second run reuses the files
            convert_sensorium(folder, out, progress=sys.stderr.isatty())
        print(f"{folder} -> {out}")
        nwb_files.append(out)
    config = TrainConfig(max_epochs=args.max_epochs, window=args.window, warmup_steps=args.warmup_steps)
    options = RunOptions(reporter=Reporter.for_terminal())
    result = pretrain(nwb_files, args.out, model_preset=args.preset, config=config, options=options)
    print(f"best validation correlation {result.best_score:.3f} at epoch {result.best_epoch}")
    print(f"core and readouts: {args.out}/best.ckpt (fine-tune new mice on it with --base)")


if __name__ == "__main__":
    main()
