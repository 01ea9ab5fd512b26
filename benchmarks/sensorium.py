"""Sensorium folder -> NWB conversion: peak memory and time against reading the same .npy files once.

Generates a full-size synthetic Sensorium mouse folder on the fly in a temporary folder (default 7,500
neurons, 700 trials of 300 valid frames NaN-padded to 324; random data written trial by trial, not the
simulator), then in this run:

1. reads every .npy file once with np.load (the baseline, in a fresh spawned process);
2. converts the folder with `convert_sensorium` in a fresh spawned process and reads its peak memory
   (VmHWM from /proc/self/status, which a spawned child does not inherit from its parent), then times the
   check pass alone (the rest of the time streams, gzip-compresses and writes HDF5).

Both steps read files the generator has just written, so mostly from the page cache.

Goals: peak memory under 2 GB; time reported as a ratio to the read-once baseline. Prints a table, then
one JSON line. The temporary folder (about 10 GB at full size) is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

HEIGHT, WIDTH = 36, 64
MEMORY_GOAL_MIB = 2048
TIERS = {"train": 0.5, "oracle": 0.08, "live_test_main": 0.08, "live_test_bonus": 0.08}
"""Share of trials per tier; the rest is final_test_main / final_test_bonus, whose responses are hidden."""


def vm_hwm_mib() -> float:
    """This process's peak resident memory in MiB (VmHWM; ru_maxrss can report a parent's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def tiers_for(n_trials: int, rng: np.random.Generator) -> np.ndarray:
    """Sensorium-like tier names, shuffled: about half train, the rest oracle and test tiers."""
    counts = {name: int(share * n_trials) for name, share in TIERS.items()}
    rest = n_trials - sum(counts.values())
    counts |= {"final_test_main": rest // 2, "final_test_bonus": rest - rest // 2}
    return rng.permutation(np.concatenate([[name] * count for name, count in counts.items()])).astype("<U16")


def write_folder(root: Path, neurons: int, trials: int, frames: int, padded: int, seed: int = 0) -> float:
    """A synthetic Sensorium mouse folder, one trial at a time; returns its size in GB."""
    rng = np.random.default_rng(seed)
    for kind in ("videos", "responses", "behavior", "pupil_center"):
        (root / "data" / kind).mkdir(parents=True)
    (root / "meta" / "neurons").mkdir(parents=True)
    (root / "meta" / "trials").mkdir(parents=True)
    tiers = tiers_for(trials, rng)
    for number in range(trials):
        video = rng.integers(0, 256, (HEIGHT, WIDTH, padded)).astype(np.float32)
        responses = np.maximum(rng.standard_normal((neurons, padded), dtype=np.float32) - 1.0, 0.0)
        if tiers[number].startswith("final_test"):
            responses[:] = 0.0  # hidden labels, as for the competition's new mice
        behavior = rng.random((2, padded), dtype=np.float32) * np.float32(20)
        pupil_center = rng.random((2, padded), dtype=np.float32) * np.float32(100)
        for kind, array in (
            ("videos", video),
            ("responses", responses),
            ("behavior", behavior),
            ("pupil_center", pupil_center),
        ):
            array[..., frames:] = np.nan
            np.save(root / "data" / kind / f"{number}.npy", array)
    depths = rng.choice(np.arange(200, 450, 25), size=neurons)
    xy = rng.integers(-300, 300, size=(neurons, 2))
    np.save(root / "meta" / "neurons" / "cell_motor_coordinates.npy", np.column_stack([xy, depths]))
    np.save(
        root / "meta" / "neurons" / "unit_ids.npy", np.sort(rng.choice(10 * neurons, neurons, replace=False))
    )
    np.save(root / "meta" / "trials" / "tiers.npy", tiers)
    np.save(root / "meta" / "trials" / "trial_idx.npy", rng.permutation(trials))
    return sum(p.stat().st_size for p in root.rglob("*.npy")) / 1e9


def _read_once(folder: str, queue) -> None:
    start = time.perf_counter()
    total = 0
    for path in sorted(Path(folder).rglob("*.npy")):
        total += np.load(path).nbytes
    queue.put({"read_s": time.perf_counter() - start, "read_gb": total / 1e9, "read_peak_mib": vm_hwm_mib()})


def _convert(folder: str, out: str, queue) -> None:
    from nwb_v1former.sources.sensorium import convert_sensorium, scan_folder

    imports_mib = vm_hwm_mib()
    start = time.perf_counter()
    convert_sensorium(folder, out, progress=False)
    convert_s, peak_mib = time.perf_counter() - start, vm_hwm_mib()
    start = time.perf_counter()
    scan_folder(folder)  # the check pass alone, to split the time: check vs stream + compress + write
    queue.put(
        {
            "convert_s": convert_s,
            "check_s": time.perf_counter() - start,
            "peak_mib": peak_mib,
            "imports_peak_mib": imports_mib,
        }
    )


def _in_fresh_process(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"{target.__name__} failed with exit code {process.exitcode}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=7500)
    parser.add_argument("--trials", type=int, default=700)
    parser.add_argument("--frames", type=int, default=300, help="Valid frames per trial.")
    parser.add_argument("--padded", type=int, default=324, help="Frames per file (NaN-padded).")
    parser.add_argument("--scratch", type=Path, default=None, help="Where the temporary folder goes.")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="sensorium-bench-", dir=args.scratch))
    try:
        folder = scratch / "dynamic12345-1-1-Video-synthetic"
        start = time.perf_counter()
        source_gb = write_folder(folder, args.neurons, args.trials, args.frames, args.padded)
        generate_s = time.perf_counter() - start
        read = _in_fresh_process(_read_once, str(folder))
        converted = _in_fresh_process(_convert, str(folder), str(scratch / "mouse.nwb"))
        nwb_gb = (scratch / "mouse.nwb").stat().st_size / 1e9
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    ratio = converted["convert_s"] / read["read_s"]
    figures = {
        "benchmark": "sensorium",
        "neurons": args.neurons,
        "trials": args.trials,
        "valid_frames": args.frames,
        "padded_frames": args.padded,
        "source_gb": round(source_gb, 3),
        "nwb_gb": round(nwb_gb, 3),
        "generate_s": round(generate_s, 2),
        "read_once_s": round(read["read_s"], 2),
        "convert_s": round(converted["convert_s"], 2),
        "convert_vs_read_once": round(ratio, 2),
        "check_pass_s": round(converted["check_s"], 2),
        "peak_mib": round(converted["peak_mib"], 1),
        "imports_peak_mib": round(converted["imports_peak_mib"], 1),
        "read_once_peak_mib": round(read["read_peak_mib"], 1),
        "memory_goal_mib": MEMORY_GOAL_MIB,
        "memory_goal_met": converted["peak_mib"] < MEMORY_GOAL_MIB,
    }
    rows = [
        (
            "mouse",
            f"{args.neurons} neurons x {args.trials} trials x {args.frames} (padded {args.padded}) frames",
        ),
        ("source .npy", f"{source_gb:.2f} GB (generated in {generate_s:.1f} s)"),
        ("NWB file", f"{nwb_gb:.2f} GB"),
        ("read .npy once", f"{read['read_s']:.1f} s (peak {read['read_peak_mib']:.0f} MiB)"),
        ("convert", f"{converted['convert_s']:.1f} s = {ratio:.1f} x read-once"),
        (
            "  of which check pass",
            f"{converted['check_s']:.1f} s (read + NaN / pixel / hash checks; the rest: stream, gzip, write)",
        ),
        (
            "convert peak memory",
            f"{converted['peak_mib']:.0f} MiB (imports alone {converted['imports_peak_mib']:.0f} MiB; "
            f"goal < {MEMORY_GOAL_MIB}: {'met' if figures['memory_goal_met'] else 'NOT met'})",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
