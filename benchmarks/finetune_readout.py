"""Readout fine-tuning of the published-size core, with and without the frozen core's feature cache.

    python benchmarks/finetune_readout.py [--neurons 1000] [--minutes 2] [--clip-seconds 5] [--epochs 3]

A new simulated animal (allen layout) is fitted with `--strategy readout` on a `viv1t-2025` core
(the published architecture, our initialisation: speed does not depend on the weights) in two runs,
each in a fresh process so that its peak memory is its own:

1. cached (the default): the core runs once over every training window and every validation and test
   piece (bf16 autocast where the CPU has AMX, float16 on disk), then `--epochs` epochs train the
   heads from the cache. Epoch 0's time minus a cached epoch's time is the core pass.
2. through the core (`--no-feature-cache`, how it ran before): one epoch, the core run for every
   training window and every validation trial.

Then, for the fitted model of run 1: the relative L2 error of the cached features against a float32
pass of the core over the validation pieces, and its validation single-trial correlation from the cache
against through the float32 core (what predict computes): the accuracy cost of bf16 + float16.

Figures: seconds of the core pass, of a cached epoch and of an epoch through the core; the projected
totals for 20 and 50 epochs (pass + n cached epochs, against n epochs through the core); cache bytes
per minute of recording; each run's peak resident memory (VmHWM; the cache is read piece by piece with
pread, never mapped or held, so the cached run's peak does not grow with the recording). Goals: a
cached epoch <= 2% of an epoch through the core, 20 cached epochs <= 1.5 x one core pass, the cache's
checksums (CRC-32 of each piece as it is read) < 2% of a cached epoch. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nwb_v1former import metrics
from nwb_v1former.data.stats import Normalizer
from nwb_v1former.data.store import open_stores
from nwb_v1former.inference.evaluation import predict_trials, tier_trials
from nwb_v1former.inference.windows import model_inputs
from nwb_v1former.model import V1Former, preset
from nwb_v1former.model.checkpoint import load_checkpoint, save_checkpoint
from nwb_v1former.nwb.convert import convert
from nwb_v1former.pipeline.train import RunOptions, finetune
from nwb_v1former.simulate import simulate_and_write
from nwb_v1former.train.config import TrainConfig
from nwb_v1former.train.feature_cache import CacheConfig, SessionCache, predict_cached_trials

EPOCH_GOAL = 0.02
TWENTY_EPOCHS_GOAL = 1.5
CHECKSUM_GOAL = 0.02


def vm_hwm_bytes() -> int:
    """This process's peak resident memory (VmHWM), in bytes."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def fit(store: Path, base: Path, run: Path, epochs: int, cached: bool) -> dict[str, Any]:
    """One readout fine-tune in this (fresh) process: epoch seconds, peak memory, cache size."""
    torch.set_num_threads(max(1, torch.get_num_threads()))
    config = TrainConfig(strategy="readout", max_epochs=epochs, patience=100, warmup_steps=10, seed=0)
    started = time.perf_counter()
    result = finetune(
        [store],
        run,
        base=base,
        config=config,
        options=RunOptions(report=False, feature_cache=CacheConfig() if cached else None),
    )
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    cache_bytes = (
        sum(p.stat().st_size for p in (run / "feature-cache").rglob("features.npy")) if cached else 0
    )
    return {
        "epoch_seconds": [row["seconds"] for row in rows],
        "total_seconds": time.perf_counter() - started,
        "peak_bytes": vm_hwm_bytes(),
        "cache_bytes": cache_bytes,
        "best_validation_correlation": result.best_score,
    }


def accuracy(store_folder: Path, run: Path) -> dict[str, float]:
    """bf16 + float16 cache against the float32 core, for the fitted model: features and correlation."""
    (store,) = open_stores(store_folder)
    model = load_checkpoint(run / "best.ckpt")
    (folder,) = (run / "feature-cache").glob(f"{store.key}-*")
    with np.load(folder / "pieces.npz") as table:
        pieces = np.stack([table["start"], table["length"]], axis=1)
    cache = SessionCache(folder, pieces, (model.config.core.emb_dim, *model.core.grid), "float16")
    validation = tier_trials(store, "validation")
    errors, norms = 0.0, 0.0
    normalizer = Normalizer.from_statistics(store.statistics)
    with torch.inference_mode():
        for index in validation:
            trial = (int(store.trials.first_tick[index]), int(store.trials.stop_tick[index]))
            for piece in model.config.window.pieces(*trial):
                exact = model.core(*model_inputs(store, normalizer, piece.begin, piece.stop))
                errors += float((cache.read(piece.begin, piece.length) - exact).square().sum())
                norms += float(exact.square().sum())
    responses = [
        np.asarray(store.responses[store.trials.first_tick[i] : store.trials.stop_tick[i]])
        for i in validation
    ]
    through_core = predict_trials(model, store, validation)
    from_cache = predict_cached_trials(model, cache, store, validation, torch.device("cpu"))
    correlation = {
        name: metrics.mean_over_neurons(metrics.single_trial_correlation(predictions, responses))
        for name, predictions in (("core", through_core), ("cache", from_cache))
    }
    return {
        "feature_relative_l2": (errors / norms) ** 0.5,
        "validation_correlation_core_fp32": correlation["core"],
        "validation_correlation_cache": correlation["cache"],
    }


def checksum_seconds(run: Path) -> float:
    """Seconds of CRC-32 over every cached piece: what an epoch's reads add for checking each piece
    (an epoch reads each training window and validation piece once)."""
    (folder,) = (run / "feature-cache").glob("*-*")
    data = (folder / "features.npy").read_bytes()
    with np.load(folder / "pieces.npz") as table:
        ends = np.cumsum(table["length"])
    header = _header_bytes(folder / "features.npy")
    tick_bytes = (len(data) - header) // int(ends[-1])
    started = time.perf_counter()
    first = 0
    for end in ends:
        zlib.crc32(memoryview(data)[header + first * tick_bytes : header + int(end) * tick_bytes])
        first = int(end)
    return time.perf_counter() - started


def _header_bytes(path: Path) -> int:
    with open(path, "rb") as handle:
        np.lib.format.read_magic(handle)
        np.lib.format.read_array_header_1_0(handle)
        return handle.tell()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--clip-seconds", type=float, default=5.0)
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the cached run (>= 2)")
    args = parser.parse_args()
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        simulate_and_write(
            root / "nwb",
            layout="allen",
            animals=1,
            progress=False,
            seed=300,
            neurons=args.neurons,
            minutes=args.minutes,
            clip_seconds=args.clip_seconds,
        )
        convert([root / "nwb"], root / "store", progress=False)
        base = save_checkpoint(V1Former(preset("viv1t-2025")), root / "base.ckpt")
        with spawn.Pool(1, maxtasksperchild=1) as pool:
            cached = pool.apply(fit, (root / "store", base, root / "cached", args.epochs, True))
        with spawn.Pool(1, maxtasksperchild=1) as pool:
            core = pool.apply(fit, (root / "store", base, root / "core", 1, False))
        errors = accuracy(root / "store", root / "cached")
        checksums = checksum_seconds(root / "cached")
        (store,) = open_stores(root / "store")
        recorded_minutes = store.n_ticks / 30 / 60

    cached_epoch = float(np.mean(cached["epoch_seconds"][1:]))
    core_pass = cached["epoch_seconds"][0] - cached_epoch
    core_epoch = core["epoch_seconds"][0]
    projected = {n: (core_pass + n * cached_epoch, n * core_epoch) for n in (20, 50)}
    per_minute = cached["cache_bytes"] / recorded_minutes
    rows = [
        ("core pass (once)", f"{core_pass:.1f} s", ""),
        (
            "epoch from the cache",
            f"{cached_epoch:.2f} s",
            f"{cached_epoch / core_epoch:.4f} of an epoch via core",
        ),
        ("epoch through the core", f"{core_epoch:.1f} s", "baseline (--no-feature-cache)"),
        *[
            (
                f"{n} epochs",
                f"{with_cache:.0f} s cached",
                f"{without:.0f} s via core: {without / with_cache:.1f}x",
            )
            for n, (with_cache, without) in projected.items()
        ],
        (
            "checksums, per cached epoch",
            f"{checksums * 1000:.1f} ms",
            f"{checksums / cached_epoch:.4f} of a cached epoch",
        ),
        ("cache per minute recorded", f"{per_minute / 1e6:.1f} MB", "float16"),
        (
            "peak memory, cached run",
            f"{cached['peak_bytes'] / 1e9:.2f} GB",
            f"cache {cached['cache_bytes'] / 1e9:.2f} GB",
        ),
        ("peak memory, core run", f"{core['peak_bytes'] / 1e9:.2f} GB", ""),
        ("features: bf16 + float16", f"rel. L2 {errors['feature_relative_l2']:.4f}", "vs float32 core"),
        (
            "validation correlation",
            f"{errors['validation_correlation_cache']:.4f} cache",
            f"{errors['validation_correlation_core_fp32']:.4f} float32 core",
        ),
    ]
    print(f"readout fine-tune, viv1t-2025, {args.neurons} neurons, {recorded_minutes:.1f} min recorded")
    for name, value, note in rows:
        print(f"  {name:<28}{value:>24}   {note}")
    figures = {
        "benchmark": "finetune_readout",
        "core_pass_seconds": round(core_pass, 2),
        "cached_epoch_seconds": round(cached_epoch, 3),
        "core_epoch_seconds": round(core_epoch, 2),
        "cached_epoch_over_core_epoch": round(cached_epoch / core_epoch, 5),
        "twenty_cached_epochs_over_core_pass": round(projected[20][0] / core_pass, 3),
        "speedup_20_epochs": round(projected[20][1] / projected[20][0], 2),
        "speedup_50_epochs": round(projected[50][1] / projected[50][0], 2),
        "checksum_seconds_per_epoch": round(checksums, 4),
        "checksums_over_cached_epoch": round(checksums / cached_epoch, 5),
        "cache_bytes_per_minute": round(per_minute),
        "peak_bytes_cached": cached["peak_bytes"],
        "peak_bytes_core": core["peak_bytes"],
        "feature_relative_l2_bf16_float16": round(errors["feature_relative_l2"], 5),
        "validation_correlation_difference": round(
            errors["validation_correlation_cache"] - errors["validation_correlation_core_fp32"], 5
        ),
        "goal_epoch_at_most_2pct": cached_epoch / core_epoch <= EPOCH_GOAL,
        "goal_20_epochs_at_most_1_5_passes": projected[20][0] / core_pass <= TWENTY_EPOCHS_GOAL,
        "goal_checksums_under_2pct_of_cached_epoch": checksums / cached_epoch < CHECKSUM_GOAL,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
