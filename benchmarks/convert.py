"""Conversion speed and memory: NWB session -> common dataset, against a plain h5py read.

1. Throughput: convert a simulated MICrONS-style session (60 Hz movie, slow imaging) and, in the
   same process, read the same datasets with plain h5py in the same block sizes. Goal: conversion
   at least half as fast as the raw read (ratio >= 0.5).
2. Memory: convert a session whose movie is >= 2 GB (uncompressed 144 x 256 frames at 60 Hz) in a
   fresh process and report its peak RSS. Goal: under 1 GB.
3. External video: sessions whose stimulus is an H.264 MP4 beside the NWB file (640 x 360, 30 Hz),
   converted in fresh processes, against decoding the same video to arrays with PyAV alone in the
   same process. Goals: conversion at least half as fast (ratio >= 0.5); peak memory the same for a
   movie four times longer (ratio of peaks near 1; VIDEO_NEURONS responses, so the movie dominates).

Prints a table, then one JSON line of figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import queue as queue_module
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


def add_responses(nwbfile: NWBFile, seconds: float, neurons: int) -> None:
    """30 Hz dF/F of `neurons` one-pixel ROIs over `seconds`, written a frame at a time."""
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
    add_responses(nwbfile, seconds, neurons)
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
    process = context.Process(target=_baseline_rss, args=(queue,))
    process.start()
    baseline_mib = queue.get()
    process.join()
    report = _in_fresh_process(path, root / "big-store")
    return {
        "file_gb": file_gb,
        "write_s": write_s,
        **report,
        "import_rss_mib": baseline_mib,
        "peak_rss_vs_file_size": report["peak_rss_mib"] * 2**20 / (file_gb * 1e9),
    }


VIDEO_SIZE = (360, 640)
"""(height, width) of the external-video benchmark's movie: a typical stimulus screen recording."""
VIDEO_NEURONS = 50
"""Few neurons beside the external video, so its peak memory measures the movie's path (the responses,
ticks x neurons, are the same in both paths and measured by part 1)."""


def write_video_session(folder: Path, seconds: float, neurons: int) -> Path:
    """An NWB file whose stimulus is an H.264 MP4 beside it (30 Hz colour gratings), with responses."""
    import av

    folder.mkdir(parents=True)
    n_frames = int(seconds * 30)
    with av.open(str(folder / "stimulus.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=30, options={"preset": "veryfast"})
        stream.height, stream.width = VIDEO_SIZE
        stream.pix_fmt = "yuv420p"
        for grey in _frames(n_frames, *VIDEO_SIZE):
            colour = np.stack([grey, grey[::-1], 255 - grey], axis=-1)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(colour, "rgb24")))
        container.mux(stream.encode(None))
    nwbfile = NWBFile("external video", f"video-{seconds:g}", datetime(2026, 1, 1, tzinfo=UTC))
    nwbfile.add_acquisition(
        ImageSeries(
            name="stimulus_movie",
            format="external",
            external_file=["stimulus.mp4"],
            starting_frame=[0],
            num_samples=n_frames,
            unit="n.a.",
            starting_time=0.0,
            rate=30.0,
        )
    )
    add_responses(nwbfile, seconds, neurons)
    path = folder / "session.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path


def pyav_decode_seconds(video: Path) -> float:
    """Decode every frame of `video` to an RGB array with PyAV alone (threaded, as the reader does)."""
    import av

    start = time.perf_counter()
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            frame.to_ndarray(format="rgb24")
    return time.perf_counter() - start


def _in_fresh_process(path: Path, out: Path) -> dict:
    """`_convert_and_report` in a spawned process: its peak RSS is its own."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_convert_and_report, args=(str(path), str(out), queue))
    process.start()
    while True:
        try:
            report = queue.get(timeout=5)
            break
        except queue_module.Empty:
            if not process.is_alive():
                raise RuntimeError(f"converting {path} failed (exit {process.exitcode})") from None
    process.join()
    return report


def external_video(root: Path, seconds: float, neurons: int) -> dict:
    short = write_video_session(root / "video-short", seconds, neurons)
    long = write_video_session(root / "video-long", 4 * seconds, neurons)
    pyav_decode_seconds(long.parent / "stimulus.mp4")  # warms the page cache
    decode_s = pyav_decode_seconds(long.parent / "stimulus.mp4")
    short_run = _in_fresh_process(short, root / "video-short-store")
    long_run = _in_fresh_process(long, root / "video-long-store")
    return {
        "frames": int(4 * seconds * 30),
        "frame_size": list(VIDEO_SIZE),
        "pyav_decode_s": decode_s,
        "convert_s": long_run["convert_s"],
        "speed_vs_pyav_decode": decode_s / long_run["convert_s"],
        "peak_rss_mib_short": short_run["peak_rss_mib"],
        "peak_rss_mib_long": long_run["peak_rss_mib"],
        "peak_rss_long_vs_short": long_run["peak_rss_mib"] / short_run["peak_rss_mib"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--movie-gb", type=float, default=2.1)
    parser.add_argument("--video-seconds", type=float, default=60.0, help="Shorter external video's length.")
    parser.add_argument("--out", type=Path, default=None, help="Scratch folder (default: a temporary one).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.out) as scratch:
        root = Path(scratch)
        speed = throughput(root, args.neurons, args.minutes)
        big = memory(root, args.movie_gb, args.neurons)
        video = external_video(root, args.video_seconds, VIDEO_NEURONS)
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
    print(
        f"external video (H.264 MP4, {video['frame_size'][1]}x{video['frame_size'][0]} colour, 30 Hz, "
        f"{VIDEO_NEURONS} neurons)"
    )
    print(
        f"  {video['frames']} frames: convert {video['convert_s']:.1f} s, PyAV decode alone "
        f"{video['pyav_decode_s']:.1f} s -> ratio {video['speed_vs_pyav_decode']:.2f} (goal >= 0.5)"
    )
    print(
        f"  peak RSS {video['peak_rss_mib_short']:.0f} MiB ({video['frames'] // 4} frames) vs "
        f"{video['peak_rss_mib_long']:.0f} MiB ({video['frames']} frames) -> ratio "
        f"{video['peak_rss_long_vs_short']:.2f} (goal near 1)"
    )
    print(json.dumps({"benchmark": "convert", "throughput": speed, "memory": big, "external_video": video}))


if __name__ == "__main__":
    main()
