"""Writing predictions into NWB: speed against plain h5py, and peak memory.

A one-hour session of 8,000 ROIs imaged at 30 Hz (a minimal pynwb file: one PlaneSegmentation, one
chunked RoiResponseSeries) gets synthesised predictions on the model's 30 Hz ticks, shifted by a
third of a frame from the imaging clock so every frame is interpolated. In a fresh process,
`write_predictions` copies the file, appends the module, streams the predictions in, validates,
fsyncs and renames; the baseline writes the same-shaped array with the same chunks and compression
into a new file with h5py alone, from the same blocks. Goals: time ratio under 2, peak RSS under 1 GB.

Prints a table, then one JSON line of figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
from hdmf.data_utils import DataChunkIterator
from pynwb import NWBHDF5IO, NWBFile
from pynwb.ophys import DfOverF, ImageSegmentation, OpticalChannel, RoiResponseSeries

from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.nwb.prediction_module import CHUNK_BYTES
from nwb_v1former.nwb.provenance import ModelProvenance
from nwb_v1former.nwb.write import write_predictions

BLOCK_TICKS = 300
SMOOTH_TICKS = 15
SHIFT_S = 1 / 90


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM, not inherited from a parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def write_source(path: Path, frames: int, neurons: int, rate: float) -> float:
    """A minimal NWB session: `neurons` one-pixel ROIs and their (frames, neurons) responses at `rate`."""
    nwbfile = NWBFile("prediction benchmark", "write-predictions-benchmark", datetime(2026, 1, 1, tzinfo=UTC))
    plane = nwbfile.create_imaging_plane(
        name="plane",
        optical_channel=OpticalChannel(name="g", description="g", emission_lambda=510.0),
        description="plane",
        device=nwbfile.create_device(name="scope"),
        excitation_lambda=920.0,
        imaging_rate=rate,
        indicator="GCaMP6s",
        location="VISp",
    )
    segmentation = ImageSegmentation().create_plane_segmentation(
        name="PlaneSegmentation", description="rois", imaging_plane=plane
    )
    for index in range(neurons):
        segmentation.add_roi(pixel_mask=[(index % 512, index // 512, 1.0)], id=1000 + index)
    module = nwbfile.create_processing_module("ophys", "ophys")
    module.add(segmentation.parent)
    rng = np.random.default_rng(0)
    rows = rng.random((256, neurons), dtype=np.float32)
    responses = DataChunkIterator(
        (rows[index % len(rows)] for index in range(frames)),
        maxshape=(frames, neurons),
        dtype=np.dtype("float32"),
        buffer_size=256,
    )
    region = segmentation.create_roi_table_region(region=list(range(neurons)), description="rois")
    dff = DfOverF()
    module.add(dff)
    dff.add_roi_response_series(
        RoiResponseSeries(name="dff", data=responses, rois=region, unit="n.a.", starting_time=0.0, rate=rate)
    )
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path.stat().st_size / 1e9


def ticks(frames: int, rate: float) -> np.ndarray:
    """The model's 30 Hz ticks over the imaging span, a third of a frame after the imaging clock."""
    return SHIFT_S + np.arange(int((frames - 1) / rate * TICK_RATE_HZ)) / TICK_RATE_HZ


def blocks(n_ticks: int, neurons: int):
    """Model-like predictions (n, neurons) block by block: positive, smooth in time, full float32
    mantissas (they compress like real ones); one block is made and rolled over the neurons."""
    noise = np.random.default_rng(1).normal(size=(BLOCK_TICKS + SMOOTH_TICKS, neurons))
    running = np.cumsum(noise, axis=0)
    base = np.exp(0.5 * (running[SMOOTH_TICKS:] - running[:-SMOOTH_TICKS]) / SMOOTH_TICKS).astype(np.float32)
    for first in range(0, n_ticks, BLOCK_TICKS):
        yield first, np.roll(base[: n_ticks - first], first % neurons, axis=1)


def _write_predictions(source: str, out: str, frames: int, neurons: int, rate: float, queue) -> None:
    tick_times = ticks(frames, rate)
    model = ModelProvenance("benchmark", "0" * 64, "benchmark", {"preset": "none"}, "benchmark")
    start = time.perf_counter()
    written = write_predictions(
        source,
        blocks(len(tick_times), neurons),
        tick_times=tick_times,
        roi_ids=1000 + np.arange(neurons),
        model=model,
        out=out,
    )
    queue.put(
        {
            "write_predictions_s": time.perf_counter() - start,
            "predicted_frames": written.predicted_frames,
            "frames": written.frames,
            "peak_rss_mib": peak_rss_mib(),
        }
    )


def _h5py_alone(out: str, frames: int, neurons: int, rate: float, queue) -> None:
    """The same-shaped array, same chunks and compression, written from the same blocks with h5py."""
    n_ticks = len(ticks(frames, rate))
    rows = max(1, min(frames, CHUNK_BYTES // (4 * neurons)))
    start = time.perf_counter()
    with h5py.File(out, "w") as handle:
        dataset = handle.create_dataset(
            "data",
            shape=(frames, neurons),
            dtype=np.float32,
            chunks=(rows, neurons),
            compression="gzip",
            compression_opts=4,
            shuffle=True,
        )
        written, pending, count = 0, [], 0
        for _, block in blocks(n_ticks, neurons):  # whole chunks at a time, as write_predictions does
            pending.append(block)
            count += len(block)
            if count >= rows * 64:
                joined = np.concatenate(pending)
                ready = len(joined) - len(joined) % rows
                dataset[written : written + ready] = joined[:ready]
                written += ready
                pending, count = [joined[ready:]], len(joined) - ready
        rest = np.concatenate(pending)[: frames - written]
        dataset[written : written + len(rest)] = rest
        dataset[written + len(rest) :] = np.nan
    with open(out, "rb") as handle:
        os.fsync(handle.fileno())
    queue.put({"h5py_alone_s": time.perf_counter() - start, "peak_rss_mib": peak_rss_mib()})


def _imports_only(queue) -> None:
    import nwb_v1former.nwb.write  # noqa: F401  (what the writing process imports)

    queue.put(peak_rss_mib())


def in_fresh_process(target, *args) -> object:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    if process.exitcode:
        raise SystemExit(f"{target.__name__} failed (exit code {process.exitcode})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--neurons", type=int, default=8000)
    parser.add_argument("--rate", type=float, default=30.0, help="Imaging rate (Hz).")
    parser.add_argument("--out", type=Path, default=None, help="Scratch folder (default: a temporary one).")
    args = parser.parse_args()
    frames = int(args.minutes * 60 * args.rate)
    with tempfile.TemporaryDirectory(dir=args.out) as scratch:
        root = Path(scratch)
        source = root / "source.nwb"
        start = time.perf_counter()
        source_gb = write_source(source, frames, args.neurons, args.rate)
        source_s = time.perf_counter() - start
        imports_mib = in_fresh_process(_imports_only)
        baseline = in_fresh_process(_h5py_alone, str(root / "baseline.h5"), frames, args.neurons, args.rate)
        baseline_gb = (root / "baseline.h5").stat().st_size / 1e9
        (root / "baseline.h5").unlink()
        ours = in_fresh_process(
            _write_predictions, str(source), str(root / "out.nwb"), frames, args.neurons, args.rate
        )
        out_gb = (root / "out.nwb").stat().st_size / 1e9
    ratio = ours["write_predictions_s"] / baseline["h5py_alone_s"]
    figures = {
        "frames": frames,
        "neurons": args.neurons,
        "imaging_rate_hz": args.rate,
        "array_gb": frames * args.neurons * 4 / 1e9,
        "source_gb": source_gb,
        "source_write_s": source_s,
        "output_gb": out_gb,
        "predictions_gb_compressed": baseline_gb,
        "h5py_alone_s": baseline["h5py_alone_s"],
        "write_predictions_s": ours["write_predictions_s"],
        "time_vs_h5py_alone": ratio,
        "peak_rss_mib": ours["peak_rss_mib"],
        "h5py_alone_peak_rss_mib": baseline["peak_rss_mib"],
        "import_rss_mib": imports_mib,
        "predicted_frames": ours["predicted_frames"],
    }
    print(
        f"write predictions: {args.minutes:g} min x {args.neurons} ROIs at {args.rate:g} Hz ({frames} frames)"
    )
    rows = [
        ("h5py alone (same chunks, filters)", baseline["h5py_alone_s"], baseline["peak_rss_mib"]),
        ("write_predictions (copy..rename)", ours["write_predictions_s"], ours["peak_rss_mib"]),
    ]
    print(f"  {'':<34}{'seconds':>10}{'peak RSS MiB':>14}")
    for label, seconds, peak in rows:
        print(f"  {label:<34}{seconds:>10.1f}{peak:>14.0f}")
    print(
        f"  ratio {ratio:.2f} (goal < 2); peak RSS {ours['peak_rss_mib']:.0f} MiB (imports alone "
        f"{imports_mib:.0f} MiB; goal < 1024); source {source_gb:.2f} GB, output {out_gb:.2f} GB"
    )
    print(json.dumps({"benchmark": "write_predictions", **figures}))


if __name__ == "__main__":
    main()
