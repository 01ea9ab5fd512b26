"""A lab's whole job on one new session, stage by stage, as a multiple of ONE pass of the core over it.

    python benchmarks/lab_job.py [--minutes 2.5] [--neurons 300] [--clip-seconds 10] [--epochs 3]
                                 [--cache-dtype float32|float16] [--model viv1t-2025]

A new simulated animal (allen layout, NWB) goes through what a lab runs: `convert`, `finetune
--strategy readout` (the frozen core's feature cache, then `--epochs` epochs of the heads, then the
final score), `evaluate` of best.ckpt on the converted session, and `predict` into a new NWB file. The
core is `--model`'s architecture with our initialisation (the published viv1t-2025 weights are not
available offline; speed does not depend on the weights). Every command runs at its default precision
(`auto`: bf16 on AMX CPUs and CUDA sm80+, float32 elsewhere).

The unit: one pass of the core over the session (the window rule's pieces from tick 0, at the same
precision, in this process; timed before and after the job, the faster kept, since a shared machine's
load changes). Printed per stage: seconds per recorded minute, the stage as a multiple of
the core pass, and the core's ticks it ran (from the feature cache or computed, as each command's
provenance records them). "Before" is derived from the core ticks the pipeline ran before this design
(cache of training windows and validation trials; the final score, evaluate and predict's scoring each
running the test trials through the float32 core; predict's continuous pass over the whole session)
at 2x per float32 tick where bf16 is fast. Goal: the whole job <= 1.5 core passes.

Without AMX the pass runs in float32, so the float16 cache cannot serve float32 requests exactly:
`--cache-dtype float32` (the default here) keeps them exact on such CPUs; with AMX the default float16
cache serves the bf16 commands. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nwb_v1former.data.dataset import WindowDataset
from nwb_v1former.data.stats import Normalizer
from nwb_v1former.data.store import SessionStore, open_stores
from nwb_v1former.inference.evaluation import tier_trials
from nwb_v1former.inference.windows import model_inputs
from nwb_v1former.model import V1Former, preset
from nwb_v1former.model.checkpoint import save_checkpoint
from nwb_v1former.model.window import WindowRule
from nwb_v1former.nwb.convert import convert
from nwb_v1former.pipeline.evaluate import evaluate
from nwb_v1former.pipeline.predict import predict
from nwb_v1former.pipeline.train import RunOptions, finetune
from nwb_v1former.precision import bf16_is_fast, core_autocast, resolve_precision
from nwb_v1former.run_folder import BEST, EVALUATION, FEATURE_CACHE, RunFolder
from nwb_v1former.simulate import simulate_and_write
from nwb_v1former.train.config import TrainConfig
from nwb_v1former.train.feature_cache import CacheConfig
from nwb_v1former.train.run_config import read_run_config

GOAL = 1.5


def core_pass_seconds(model: V1Former, store: SessionStore, precision: str) -> tuple[float, int]:
    """Seconds and core ticks of one pass of the core over the session (the window rule from tick 0)."""
    normalizer, device, ticks = Normalizer.from_statistics(store.statistics), torch.device("cpu"), 0
    started = time.perf_counter()
    with torch.inference_mode(), core_autocast(device, precision):
        for piece in model.config.window.pieces(0, store.n_ticks):
            model.core.eval()(*model_inputs(store, normalizer, piece.begin, piece.stop))
            ticks += piece.length
    return time.perf_counter() - started, ticks


def ticks_before(
    store: SessionStore, window_starts: np.ndarray, window: int, rule: WindowRule
) -> dict[str, int]:
    """Core ticks each stage ran before this design (see the module doc), all float32 but the cache."""
    trials = store.trials

    def trial_ticks(tier: str) -> int:
        indices = tier_trials(store, tier)
        return sum(
            p.length
            for i in indices
            for p in rule.pieces(int(trials.first_tick[i]), int(trials.stop_tick[i]))
        )

    test = trial_ticks("test")
    return {
        "cache": len(window_starts) * window + trial_ticks("validation"),
        "final score": test,
        "evaluate": test,
        "predict": test + sum(p.length for p in rule.pieces(0, store.n_ticks)),
    }


def computed(inference: dict[str, Any]) -> int:
    """Core ticks a command computed (not read from the cache), from its provenance record."""
    if "core_ticks_computed" in inference:
        return int(inference["core_ticks_computed"])
    return sum(computed(part) for part in inference.values())


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """The job in this process: seconds per stage, core ticks per stage now and before."""
    simulate_and_write(
        root / "nwb",
        layout="allen",
        progress=False,
        seed=301,
        neurons=args.neurons,
        minutes=args.minutes,
        clip_seconds=args.clip_seconds,
    )
    (source,) = sorted((root / "nwb").glob("*.nwb"))
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    convert([source], root / "store", progress=False)
    seconds["convert"] = time.perf_counter() - started
    (store,) = open_stores(root / "store")
    torch.manual_seed(0)
    base_model = V1Former(preset(args.model))
    base = save_checkpoint(base_model, root / "base.ckpt")
    precision = resolve_precision("auto", torch.device("cpu"))
    pass_seconds, pass_ticks = core_pass_seconds(base_model, store, precision)

    config = TrainConfig(strategy="readout", max_epochs=args.epochs, patience=100, warmup_steps=10)
    options = RunOptions(report=False, feature_cache=CacheConfig(dtype=args.cache_dtype))
    started = time.perf_counter()
    finetune([root / "store"], root / "run", base=base, config=config, options=options)
    seconds["finetune"] = time.perf_counter() - started
    folder = RunFolder(root / "run")
    rows = folder.metrics()
    evaluation = json.loads((folder / EVALUATION).read_text())
    started = time.perf_counter()
    (evaluated,) = evaluate(folder.path, [root / "store"])
    seconds["evaluate"] = time.perf_counter() - started
    started = time.perf_counter()
    predicted = predict(folder / BEST, source, root / "predictions.nwb", progress=False)
    seconds["predict"] = time.perf_counter() - started

    again, _ = core_pass_seconds(base_model, store, precision)  # the machine's load changes: keep the faster
    (cache,) = (folder / FEATURE_CACHE).glob("*-*")
    window = read_run_config(folder).window
    starts = WindowDataset(store, window=window, tiers=("train",)).starts
    (final,) = evaluation["inference"].values()
    return {
        "recorded_minutes": store.n_ticks / 30 / 60,
        "precision": precision,
        "bf16_fast_here": bf16_is_fast(torch.device("cpu")),
        "core_pass": {
            "seconds": min(pass_seconds, again),
            "before_job": pass_seconds,
            "after_job": again,
            "ticks": pass_ticks,
        },
        "seconds": seconds,
        "epoch_seconds": [row["seconds"] for row in rows],
        "best_validation_correlation": max(row["validation_correlation"] for row in rows),
        "ticks": {
            "cache": int(np.load(cache / "pieces.npz")["length"].sum()),
            "final score": computed(final),
            "evaluate": computed(evaluated.inference),
            "predict": computed(predicted.inference),
        },
        "ticks_before": ticks_before(store, starts, window, base_model.config.window),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.5)
    parser.add_argument("--neurons", type=int, default=300)
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--cache-dtype", choices=("float32", "float16"), default="float32")
    parser.add_argument("--model", default="viv1t-2025", help="preset: viv1t-2025, small, tiny")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        result = run(args, Path(folder))
    minutes, unit = result["recorded_minutes"], result["core_pass"]["seconds"]
    slow = 2.0 if result["bf16_fast_here"] else 1.0  # before: float32 where bf16 is fast costs 2x
    before = {
        stage: ticks * (1.0 if stage == "cache" else slow) for stage, ticks in result["ticks_before"].items()
    }
    one_pass = result["core_pass"]["ticks"]
    seconds = result["seconds"]
    print(
        f"lab job on {minutes:.2f} recorded minutes ({args.model}, {args.neurons} neurons, core at "
        f"{result['precision']}); one core pass: {unit:.1f} s ({unit / minutes:.1f} s per recorded minute)"
    )
    print(f"{'stage':<10} {'s/rec.min':>10} {'x pass':>8} {'core ticks now':>15} {'before (x pass)':>16}")
    cache_and_final = result["ticks"]["cache"] + result["ticks"]["final score"]
    rows = [
        ("convert", seconds["convert"], None, None),
        ("finetune", seconds["finetune"], cache_and_final, before["cache"] + before["final score"]),
        ("evaluate", seconds["evaluate"], result["ticks"]["evaluate"], before["evaluate"]),
        ("predict", seconds["predict"], result["ticks"]["predict"], before["predict"]),
    ]
    for stage, spent, now, was in rows:
        now_text = "" if now is None else f"{now} ({now / one_pass:.2f})"
        was_text = "" if was is None else f"{was / one_pass:.2f}"
        print(f"{stage:<10} {spent / minutes:>10.1f} {spent / unit:>8.2f} {now_text:>15} {was_text:>16}")
    total = sum(seconds.values())
    total_ticks = sum(result["ticks"].values())
    total_before = sum(before.values())
    print(
        f"{'total':<10} {total / minutes:>10.1f} {total / unit:>8.2f} {total_ticks / one_pass:>15.2f} "
        f"{total_before / one_pass:>16.2f}   goal <= {GOAL} core passes"
    )
    summary = {
        "benchmark": "lab_job",
        **vars(args),
        **result,
        "total_core_passes": total / unit,
        "core_tick_passes": total_ticks / one_pass,
        "core_tick_passes_before": total_before / one_pass,
        "goal": GOAL,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
