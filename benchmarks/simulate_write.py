"""Time and peak memory to simulate and write one session, per layout.

Each layout runs in a fresh (spawned) child process, so its peak RSS is its own: simulate the session,
write it in the layout, write its ground truth. The baseline, in the same run, is the raw cost of writing
the same bulk arrays (screen, measured responses, behaviour) with plain h5py, gzip 4, no pynwb.

    python benchmarks/simulate_write.py [--neurons 1000] [--minutes 10] [--layouts allen sensorium]

Prints a table, then ends with one JSON line: absolute numbers and ratios against the h5py baseline.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

MIB = 1024**2
CHUNK_BYTES = 1 << 20
MOVIE_CHUNK_FRAMES = 32
ALL_LAYOUTS = ("allen", "openscope", "microns", "sensorium")


def _peak_rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _bytes_on_disk(path: Path) -> int:
    """Size of a file, or of every file under a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _remove(path: Path) -> None:
    """Delete a file or folder left by an earlier run, if any."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _in_memory_mib(recording) -> float:
    """MiB of the recording's bulk arrays: screen, rates, measured, expected, expected_ticks."""
    measurement = recording.measurement
    arrays = (
        recording.screen,
        recording.rates,
        measurement.measured,
        measurement.expected,
        measurement.expected_ticks,
    )
    return sum(array.nbytes for array in arrays) / MIB


def measure_layout(layout: str, neurons: int, minutes: float, seed: int, out: str) -> dict[str, Any]:
    """In a child process: simulate, write data and truth for `layout`; seconds, peak RSS, bytes."""
    from nwb_v1former.simulate import LAYOUTS, layout_config, simulate
    from nwb_v1former.simulate.truth import write_truth

    import_rss = _peak_rss_mib()
    folder = Path(out) / layout
    folder.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    recording = simulate(layout_config(layout, neurons=neurons, minutes=minutes, seed=seed))
    simulate_s = time.perf_counter() - start

    data = folder / LAYOUTS[layout].data_name(recording)
    _remove(data)  # a rerun into the same --out
    start = time.perf_counter()
    LAYOUTS[layout].writer(recording, data)
    write_s = time.perf_counter() - start

    truth = folder / f"{recording.session_id}.truth.npz"
    start = time.perf_counter()
    write_truth(recording, truth)
    truth_s = time.perf_counter() - start

    return {
        "simulate_s": simulate_s,
        "write_s": write_s,
        "truth_s": truth_s,
        "peak_rss_mib": _peak_rss_mib(),
        "import_rss_mib": import_rss,
        "on_disk_mib": _bytes_on_disk(data) / MIB,
        "truth_on_disk_mib": _bytes_on_disk(truth) / MIB,
        "data_in_memory_mib": _in_memory_mib(recording),
        "ticks": int(recording.screen.shape[0]),
        "imaging_frames": int(recording.measurement.measured.shape[0]),
    }


def measure_raw_h5py(neurons: int, minutes: float, seed: int, out: str) -> dict[str, Any]:
    """In a child process: write the allen recording's bulk arrays with plain h5py (gzip 4), then fsync."""
    import h5py
    import numpy as np

    from nwb_v1former.simulate import layout_config, simulate

    recording = simulate(layout_config("allen", neurons=neurons, minutes=minutes, seed=seed))
    behavior = recording.behavior
    measured = recording.measurement.measured
    rows = int(np.clip(CHUNK_BYTES // (measured.itemsize * measured.shape[1]), 1, measured.shape[0]))
    movie_chunk = (min(MOVIE_CHUNK_FRAMES, len(recording.screen)), *recording.screen.shape[1:])
    arrays = {
        "screen": (recording.screen, movie_chunk),
        "measured": (measured, (rows, measured.shape[1])),
        "running_speed": (behavior.running_speed, True),
        "pupil_diameter": (behavior.pupil_diameter, True),
        "pupil_center": (behavior.pupil_center, True),
    }
    path = Path(out) / "raw_h5py.h5"
    start = time.perf_counter()
    with h5py.File(path, "w") as handle:
        for name, (values, chunks) in arrays.items():
            handle.create_dataset(name, data=values, chunks=chunks, compression="gzip", compression_opts=4)
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
    seconds = time.perf_counter() - start
    raw_bytes = sum(values.nbytes for values, _ in arrays.values())
    return {
        "raw_h5py_write_s": seconds,
        "raw_h5py_mib": raw_bytes / MIB,
        "raw_h5py_mb_per_s": raw_bytes / 1e6 / seconds,
        "raw_h5py_on_disk_mib": path.stat().st_size / MIB,
    }


def _in_child(function, *args) -> dict[str, Any]:
    """Run `function(*args)` in a fresh spawned process, so its peak RSS is its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def run(neurons: int, minutes: float, layouts: list[str], seed: int, out: str) -> dict[str, Any]:
    """The baseline, then every layout; figures with ratios against the baseline."""
    baseline = _in_child(measure_raw_h5py, neurons, minutes, seed, out)
    raw_s = baseline["raw_h5py_write_s"]
    results = {}
    for layout in layouts:
        figures = _in_child(measure_layout, layout, neurons, minutes, seed, out)
        figures["write_vs_raw_h5py"] = figures["write_s"] / raw_s
        figures["simulate_vs_raw_h5py"] = figures["simulate_s"] / raw_s
        figures["peak_rss_vs_data_in_memory"] = figures["peak_rss_mib"] / figures["data_in_memory_mib"]
        results[layout] = figures
    return {
        "benchmark": "simulate_write",
        "neurons": neurons,
        "minutes": minutes,
        **baseline,
        "layouts": results,
    }


def print_table(report: dict[str, Any]) -> None:
    """One row per layout, and the baseline underneath."""
    header = ("layout", "simulate s", "write s", "truth s", "peak RSS MiB", "on disk MiB", "write / raw h5py")
    rows = [
        (
            layout,
            f"{f['simulate_s']:.2f}",
            f"{f['write_s']:.2f}",
            f"{f['truth_s']:.2f}",
            f"{f['peak_rss_mib']:.0f}",
            f"{f['on_disk_mib']:.1f}",
            f"{f['write_vs_raw_h5py']:.1f}x",
        )
        for layout, f in report["layouts"].items()
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    print(
        f"\nbaseline: plain h5py (gzip 4) writes {report['raw_h5py_mib']:.1f} MiB of the same bulk arrays "
        f"in {report['raw_h5py_write_s']:.2f} s ({report['raw_h5py_mb_per_s']:.1f} MB/s, "
        f"{report['raw_h5py_on_disk_mib']:.1f} MiB on disk); {report['neurons']} neurons, "
        f"{report['minutes']:g} min."
    )


def _check_config(neurons: int, minutes: float, layouts: list[str], seed: int) -> None:
    """Fail here, not in a child, on a session the simulator refuses (e.g. too short for its repeats)."""
    from nwb_v1former.simulate import layout_config
    from nwb_v1former.simulate.schedule import repeat_plan

    for layout in layouts:
        repeat_plan(layout_config(layout, neurons=neurons, minutes=minutes, seed=seed))


def main(argv: list[str] | None = None) -> None:
    """Parse options, run the benchmark, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--layouts", nargs="+", choices=ALL_LAYOUTS, default=list(ALL_LAYOUTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="folder to write into (default: a temporary folder)")
    args = parser.parse_args(argv)
    from nwb_v1former.errors import ConfigError

    try:
        _check_config(args.neurons, args.minutes, args.layouts, args.seed)
    except ConfigError as error:
        parser.error(str(error))

    if args.out is None:
        with tempfile.TemporaryDirectory(prefix="simulate_write-") as out:
            report = run(args.neurons, args.minutes, args.layouts, args.seed, out)
    else:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        report = run(args.neurons, args.minutes, args.layouts, args.seed, args.out)
    print_table(report)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
