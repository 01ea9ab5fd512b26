"""Frames per second that WindowDataset delivers from a store, against raw memmap slicing of the same windows.

    python benchmarks/dataset_throughput.py [--neurons 1000] [--trials 60] [--trial-frames 300] [--window 300]

Builds a store of random data in a temporary folder (StoreWriter, then compute_statistics), then, in
the same process and over the same windows: a torch DataLoader over WindowDataset (batch_size=1,
num_workers=0, normalised tensors), and the baseline, a copy of each window's memmap slices (no
normalisation, no tensors). Each runs `--passes` times; the last pass counts (the first warms caches).
Torch runs on `--torch-threads` threads (default 1, as in a DataLoader worker process): with more, the
collate's torch.stack contends with any other load on the machine and timings swing tenfold.
The figure that matters is the last: loading must outpace what one training step of the `small`
model consumes (frames per second of forward + backward + optimiser step on one window, all cores),
by at least 20x, so that loading is never the bottleneck.

Prints a table, then ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from nwb_v1former.data import SessionStore, StoreWriter, Trials, WindowDataset, compute_statistics

BULK = ("video", "responses", "behavior", "pupil_center")


def build_store(folder: Path, *, neurons: int, trials: int, trial_frames: int, seed: int) -> SessionStore:
    """A session of back-to-back train trials filled with random values, written trial by trial."""
    rng = np.random.default_rng(seed)
    n_ticks = trials * trial_frames
    writer = StoreWriter(folder, n_ticks, neurons)
    for first in range(0, n_ticks, trial_frames):
        ticks = slice(first, first + trial_frames)
        writer["video"][ticks] = rng.integers(0, 256, (trial_frames, 36, 64), dtype=np.uint8)
        writer["responses"][ticks] = rng.gamma(2.0, 1.0, (trial_frames, neurons))
        writer["behavior"][ticks] = rng.normal([5.0, 10.0], [1.0, 3.0], (trial_frames, 2))
        writer["pupil_center"][ticks] = rng.normal(0.0, 1.0, (trial_frames, 2))
    writer["times"][:] = np.arange(n_ticks) / 30
    first_tick = np.arange(0, n_ticks, trial_frames, dtype=np.int64)
    table = Trials(
        first_tick=first_tick,
        stop_tick=first_tick + trial_frames,
        tier=np.full(trials, "train"),
        stimulus_id=np.array([f"clip{i}" for i in range(trials)]),
        source_tier=np.full(trials, "train"),
    )
    statistics = compute_statistics(*(writer[name] for name in BULK), table)
    writer.write_small(
        roi_ids=np.arange(neurons),
        coordinates=np.zeros((neurons, 3)),
        plane=np.zeros(neurons),
        trials=table,
        statistics=statistics,
        meta={"source": "benchmarks/dataset_throughput.py"},
    )
    return SessionStore(folder)


def frames_per_s(dataset: Dataset, *, sampler: Sampler | None = None, passes: int = 2) -> float:
    """Frames/s of iterating `dataset` (items with "video" (1, T, H, W)) in a DataLoader; the last pass."""
    loader = DataLoader(dataset, batch_size=1, num_workers=0, sampler=sampler)
    for _ in range(passes):
        frames = 0
        start = time.perf_counter()
        for batch in loader:
            frames += batch["video"].shape[0] * batch["video"].shape[2]
        seconds = time.perf_counter() - start
    return frames / seconds


def raw_memmap_frames_per_s(
    store: SessionStore, starts: np.ndarray, window: int, *, passes: int = 2
) -> float:
    """Frames/s of copying each window's slice of every bulk memmap into memory; the last pass."""
    arrays = [getattr(store, name) for name in BULK]
    for _ in range(passes):
        start = time.perf_counter()
        for first in starts:
            for array in arrays:
                np.array(array[first : first + window])
        seconds = time.perf_counter() - start
    return len(starts) * window / seconds


def small_model_frames_per_s(item: dict[str, Any], *, steps: int = 2) -> float:
    """Frames/s consumed training the `small` preset on one window (B=1): Poisson loss, AdamW, all cores."""
    from nwb_v1former.model import V1Former, preset

    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    try:
        torch.manual_seed(0)
        n = item["responses"].shape[-1]
        model = V1Former(preset("small"))
        model.add_session("bench", np.arange(n), np.random.default_rng(0).normal(size=(n, 3)), np.ones(n))
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        batch = {name: item[name][None] for name in ("video", "behavior", "pupil_center", "responses")}
        for step in range(steps + 1):  # the first step warms up
            if step == 1:
                start = time.perf_counter()
            prediction = model(batch["video"], batch["behavior"], batch["pupil_center"], session="bench")
            loss = (prediction - batch["responses"] * torch.log(prediction + 1e-8)).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return steps * batch["video"].shape[2] / (time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)


def run(
    *, neurons: int, trials: int, trial_frames: int, window: int, passes: int, seed: int
) -> dict[str, Any]:
    """Build the store, measure both ways over the same windows, and return every figure."""
    with tempfile.TemporaryDirectory(prefix="dataset_throughput-") as out:
        start = time.perf_counter()
        store = build_store(
            Path(out) / "bench", neurons=neurons, trials=trials, trial_frames=trial_frames, seed=seed
        )
        build_s = time.perf_counter() - start
        dataset = WindowDataset(store, window=window)
        dataset_rate = frames_per_s(dataset, passes=passes)
        raw_rate = raw_memmap_frames_per_s(store, dataset.starts, window, passes=passes)
        model_rate = small_model_frames_per_s(dataset[0])
    frame_bytes = 36 * 64 + 4 * (neurons + 4)  # uint8 frame, float32 responses, behavior and pupil
    return {
        "benchmark": "dataset_throughput",
        "frames_per_s": dataset_rate,
        "raw_memmap_frames_per_s": raw_rate,
        "ratio_vs_raw_memmap": dataset_rate / raw_rate,
        "small_model_train_frames_per_s": model_rate,
        "ratio_vs_small_model_training": dataset_rate / model_rate,
        "store_mb_per_s": dataset_rate * frame_bytes / 1e6,
        "neurons": neurons,
        "trials": trials,
        "trial_frames": trial_frames,
        "window": window,
        "windows": len(dataset),
        "passes": passes,
        "torch_threads": torch.get_num_threads(),
        "build_and_statistics_s": build_s,
    }


def print_table(report: dict[str, Any]) -> None:
    """One row per way of reading, then the setting."""
    header = ("reader", "frames/s", "vs raw memmap")
    rows = [
        (
            "WindowDataset + DataLoader",
            f"{report['frames_per_s']:,.0f}",
            f"{report['ratio_vs_raw_memmap']:.2f}x",
        ),
        ("raw memmap slices", f"{report['raw_memmap_frames_per_s']:,.0f}", "1.00x"),
        (
            "`small` model training step",
            f"{report['small_model_train_frames_per_s']:,.1f}",
            f"{report['small_model_train_frames_per_s'] / report['raw_memmap_frames_per_s']:.5f}x",
        ),
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    print(
        f"\n{report['windows']} windows of {report['window']} frames, {report['neurons']} neurons, "
        f"pass {report['passes']} of {report['passes']} timed; "
        f"store written in {report['build_and_statistics_s']:.1f} s.\n"
        f"loading outpaces training the `small` model {report['ratio_vs_small_model_training']:,.0f}x "
        "(goal: at least 20x)."
    )


def main(argv: list[str] | None = None) -> None:
    """Parse options, run the benchmark, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--trial-frames", type=int, default=300)
    parser.add_argument("--window", type=int, default=300)
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torch-threads", type=int, default=1)
    args = parser.parse_args(argv)
    counts = (args.neurons, args.trials, args.window, args.passes, args.torch_threads)
    if args.window > args.trial_frames or min(counts) < 1:
        parser.error("need positive counts and --window <= --trial-frames")
    torch.set_num_threads(args.torch_threads)
    report = run(
        neurons=args.neurons,
        trials=args.trials,
        trial_frames=args.trial_frames,
        window=args.window,
        passes=args.passes,
        seed=args.seed,
    )
    print_table(report)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
