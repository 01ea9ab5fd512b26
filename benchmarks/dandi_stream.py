"""Streaming versus downloading one DANDI session: time and bytes moved, against a local stand-in archive.

The archive (tests/sources/dandi_server.py) runs in this process on 127.0.0.1 and serves one simulated
MICrONS-style session (a long stimulus movie in acquisition); `--latency-ms` adds a round trip to
every request, as a real network would. Two tasks, each done both ways from a cold cache:

1. inspect: what the session holds (its layout: a small part of the file).
2. convert: the whole session into the common dataset.

Baseline: downloading (resolve into the cache, then read the local file). Figures are ratios of
streaming against that baseline in the same run (time < 1: streaming is faster; bytes < 1: it moved
less). Also timed: resolving again once the download is cached and verified (no bytes move).

Prints a table, then one JSON line of figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from nwb_v1former.nwb.convert import convert
from nwb_v1former.nwb.discover import inspect_session
from nwb_v1former.simulate import simulate_and_write
from nwb_v1former.sources import resolve_sources

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from sources.dandi_server import DandiServer

SOURCE = "dandiset:000123"


def measure(server: DandiServer, work: Callable[[], object]) -> dict:
    """Seconds, blob bytes sent and blob requests of one piece of work."""
    server.reset_counters()
    start = time.perf_counter()
    result = work()
    return {
        "seconds": time.perf_counter() - start,
        "mb": server.bytes_sent / 1e6,
        "requests": sum(1 for method, _, _ in server.blob_requests() if method == "GET"),
        "result": result,
    }


def same_arrays(first: Path, second: Path) -> bool:
    """Whether two store folders hold the same arrays (every .npy file)."""
    names = sorted(path.name for path in first.glob("*.npy"))
    return names == sorted(path.name for path in second.glob("*.npy")) and all(
        np.array_equal(np.load(first / name), np.load(second / name), equal_nan=True) for name in names
    )


def resolve(server: DandiServer, cache: Path, *, stream: bool = False) -> list:
    """The benchmark's one session, downloaded into `cache` (or streamed)."""
    return resolve_sources([SOURCE], cache_dir=cache, stream=stream, api_url=server.api_url, progress=False)


def run_task(server: DandiServer, root: Path, task: str) -> dict[str, dict]:
    """One task done by downloading (fresh cache) and by streaming; convert returns the store folder."""

    def do(stream: bool):
        mode = "stream" if stream else "download"
        found = resolve(server, root / f"cache-{task}-{mode}", stream=stream)[0]
        if task == "inspect":
            return inspect_session(found.file).responses[0].shape
        return convert([found.session_input], root / f"store-{mode}", progress=False)[0].folder

    return {"download": measure(server, lambda: do(False)), "stream": measure(server, lambda: do(True))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=300)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="Added to every request.")
    parser.add_argument("--out", type=Path, default=None, help="Scratch folder (default: a temporary one).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.out) as scratch:
        root = Path(scratch)
        session = simulate_and_write(
            root / "sim", layout="microns", progress=False, neurons=args.neurons, minutes=args.minutes
        )[0]
        file_mb = session.data.stat().st_size / 1e6
        server = DandiServer(delay_s=args.latency_ms / 1000).start()
        try:
            files = {"sub-000/sub-000_ses-000.nwb": session.data}
            server.add_dandiset("000123", {"0.230101.1200": files, "draft": files})
            tasks = {task: run_task(server, root, task) for task in ("inspect", "convert")}
            cached = measure(server, lambda: resolve(server, root / "cache-convert-download"))
        finally:
            server.stop()
        same = same_arrays(tasks["convert"]["download"]["result"], tasks["convert"]["stream"]["result"])
    print(
        f"one simulated session, {file_mb:.1f} MB, {args.latency_ms:g} ms added per request "
        f"(streamed store identical to downloaded: {same})"
    )
    header = ("task", "mode", "time s", "MB moved", "requests", "time ratio", "bytes ratio")
    print("  {:8} {:9} {:>8} {:>9} {:>9} {:>11} {:>12}".format(*header))
    figures: dict = {"benchmark": "dandi_stream", "file_mb": file_mb, "latency_ms": args.latency_ms}
    for task, modes in tasks.items():
        base = modes["download"]
        for mode, got in modes.items():
            print(
                f"  {task:8} {mode:9} {got['seconds']:8.2f} {got['mb']:9.1f} {got['requests']:9d} "
                f"{got['seconds'] / base['seconds']:11.2f} {got['mb'] / base['mb']:12.3f}"
            )
        stream = modes["stream"]
        figures[task] = {
            "download_s": base["seconds"],
            "stream_s": stream["seconds"],
            "download_mb": base["mb"],
            "stream_mb": stream["mb"],
            "stream_requests": stream["requests"],
            "stream_time_vs_download": stream["seconds"] / base["seconds"],
            "stream_bytes_vs_download": stream["mb"] / base["mb"],
        }
    convert_s = tasks["convert"]["download"]["seconds"]
    print(
        f"  resolve again with the download cached and verified: {cached['seconds']:.2f} s, "
        f"{cached['mb']:.1f} MB moved ({cached['seconds'] / convert_s:.3f} of the download-and-convert time)"
    )
    figures["cached_resolve_s"] = cached["seconds"]
    figures["cached_resolve_vs_download_and_convert"] = cached["seconds"] / convert_s
    figures["streamed_store_identical"] = bool(same)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
