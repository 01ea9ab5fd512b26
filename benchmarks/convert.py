"""Conversion speed and memory: NWB session -> common dataset, against a plain h5py read.

1. Throughput: convert a simulated MICrONS-style session (60 Hz movie, slow imaging) and, in the
   same process, read the same datasets with plain h5py in the same block sizes. Goal: conversion
   at least half as fast as the raw read (ratio >= 0.5).
2. Memory: convert a session whose movie is >= 2 GB (uncompressed 144 x 256 frames at 60 Hz) in a
   fresh process and report its peak RSS. Goal: under 1 GB.

Prints a table, then one JSON line of figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
from hdmf.data_utils import DataChunkIterator
from pynwb import NWBHDF5IO, NWBFile
from pynwb.image import ImageSeries
from pynwb.ophys import DfOverF, ImageSegmentation, OpticalChannel, RoiResponseSeries

from nwb_v1former.nwb.convert import convert
from nwb_v1former.nwb.discover import CHUNK_CACHE_BYTES
from nwb_v1former.simulate import simulate_and_write

BLOCK = 4096


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it does not inherit a parent's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def raw_read_seconds(path: Path) -> float:
    """Read every bulk dataset the reader needs (movie, responses, ROI masks) with plain h5py, by blocks."""
    start = time.perf_counter()
    with h5py.File(path, "r", rdcc_nbytes=CHUNK_CACHE_BYTES) as handle:
        datasets = [
            handle["acquisition/stimulus_movie/data"],
            handle["acquisition/stimulus_movie/timestamps"],
        ]
        fluorescence = handle["processing/ophys/Fluorescence"]
        for name in fluorescence:
            datasets += [fluorescence[name]["data"], fluorescence[name]["timestamps"]]
        segmentation = handle["processing/ophys/ImageSegmentation"]
        datasets += [segmentation[name]["image_mask"] for name in segmentation]
        for dataset in datasets:
            rows = max(1, BLOCK * 1000 // int(np.prod(dataset.shape[1:], dtype=np.int64) or 1))
            for block in range(0, dataset.shape[0], rows):
                np.asarray(dataset[block : block + rows])
    return time.perf_counter() - start


def throughput(root: Path, neurons: int, minutes: float) -> dict:
    session = simulate_and_write(
        root / "sim", layout="microns", progress=False, neurons=neurons, minutes=minutes
    )[0]
    raw_s = raw_read_seconds(session.data)  # warms the page cache for both
    raw_s = raw_read_seconds(session.data)
    start = time.perf_counter()
    converted = convert([session.data], root / "store", progress=False)[0]
    convert_s = time.perf_counter() - start
    return {
        "ticks": converted.ticks,
        "neurons": converted.neurons,
        "raw_h5py_read_s": raw_s,
        "convert_s": convert_s,
        "ticks_per_s": converted.ticks / convert_s,
        "speed_vs_raw_h5py": raw_s / convert_s,
    }


def _frames(n: int, height: int, width: int):
    """Moving gratings, generated a frame at a time (the writer never holds the movie)."""
    yy, xx = np.mgrid[0:height, 0:width]
    for index in range(n):
        yield (127 + 100 * np.sin((xx + 2 * index) / 9.0 + yy / 23.0)).astype(np.uint8)


def write_big_movie_session(path: Path, movie_gb: float, neurons: int) -> float:
    """An NWB file with an uncompressed movie of `movie_gb` GB and 30 Hz responses over the same time."""
    height, width, rate = 144, 256, 60.0
    n_frames = int(np.ceil(movie_gb * 1e9 / (height * width)))
    seconds = n_frames / rate
    nwbfile = NWBFile("big movie", "big-movie", datetime(2026, 1, 1, tzinfo=UTC))
    nwbfile.add_acquisition(
        ImageSeries(
            name="stimulus_movie",
            data=DataChunkIterator(
                _frames(n_frames, height, width),
                maxshape=(n_frames, height, width),
                dtype=np.dtype("uint8"),
                buffer_size=256,
            ),
            unit="n.a.",
            format="raw",
            starting_time=0.0,
            rate=rate,
        )
    )
    plane = nwbfile.create_imaging_plane(
        name="plane",
        optical_channel=OpticalChannel(name="g", description="g", emission_lambda=510.0),
        description="plane",
        device=nwbfile.create_device(name="scope"),
        excitation_lambda=920.0,
        imaging_rate=30.0,
        indicator="GCaMP6s",
        location="VISp",
    )
    segmentation = ImageSegmentation().create_plane_segmentation(
        name="PlaneSegmentation", description="rois", imaging_plane=plane
    )
    for index in range(neurons):
        segmentation.add_roi(pixel_mask=[(index % 500, index // 500, 1.0)])
    module = nwbfile.create_processing_module("ophys", "ophys")
    module.add(segmentation.parent)
    n_responses = int(seconds * 30.0)
    responses = DataChunkIterator(
        (np.random.default_rng(i).random(neurons, dtype=np.float32) for i in range(n_responses)),
        maxshape=(n_responses, neurons),
        dtype=np.dtype("float32"),
        buffer_size=1024,
    )
    region = segmentation.create_roi_table_region(region=list(range(neurons)), description="rois")
    module.add(
        DfOverF(
            roi_response_series=RoiResponseSeries(
                name="dff", data=responses, rois=region, unit="n.a.", starting_time=0.0, rate=30.0
            )
        )
    )
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path.stat().st_size / 1e9


def _convert_and_report(path: str, out: str, queue) -> None:
    start = time.perf_counter()
    session = convert([path], out, progress=False)[0]
    queue.put(
        {
            "convert_s": time.perf_counter() - start,
            "ticks": session.ticks,
            "peak_rss_mib": peak_rss_mib(),
        }
    )


def _baseline_rss(queue) -> None:
    import nwb_v1former.nwb.convert  # noqa: F401  (same imports as the converting process)

    queue.put(peak_rss_mib())


def memory(root: Path, movie_gb: float, neurons: int) -> dict:
    path = root / "big.nwb"
    start = time.perf_counter()
    file_gb = write_big_movie_session(path, movie_gb, neurons)
    write_s = time.perf_counter() - start
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    for target, args in (
        (_baseline_rss, (queue,)),
        (_convert_and_report, (str(path), str(root / "big-store"), queue)),
    ):
        process = context.Process(target=target, args=args)
        process.start()
        process.join()
    baseline_mib, report = queue.get(), queue.get()
    return {
        "file_gb": file_gb,
        "write_s": write_s,
        **report,
        "import_rss_mib": baseline_mib,
        "peak_rss_vs_file_size": report["peak_rss_mib"] * 2**20 / (file_gb * 1e9),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--movie-gb", type=float, default=2.1)
    parser.add_argument("--out", type=Path, default=None, help="Scratch folder (default: a temporary one).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.out) as scratch:
        root = Path(scratch)
        speed = throughput(root, args.neurons, args.minutes)
        big = memory(root, args.movie_gb, args.neurons)
    print("conversion throughput (MICrONS-style simulated session)")
    print(
        f"  {speed['ticks']} ticks x {speed['neurons']} neurons: convert {speed['convert_s']:.2f} s, "
        f"raw h5py read {speed['raw_h5py_read_s']:.2f} s -> "
        f"ratio {speed['speed_vs_raw_h5py']:.2f} (goal >= 0.5)"
    )
    print("memory (movie >= 2 GB)")
    print(
        f"  file {big['file_gb']:.2f} GB, {big['ticks']} ticks: convert {big['convert_s']:.1f} s, "
        f"peak RSS {big['peak_rss_mib']:.0f} MiB (imports alone {big['import_rss_mib']:.0f} MiB; goal < 1024)"
    )
    print(json.dumps({"benchmark": "convert", "throughput": speed, "memory": big}))


if __name__ == "__main__":
    main()
