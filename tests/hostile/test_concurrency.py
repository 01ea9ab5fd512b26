"""#19.4: two writers of one output, or two downloads of one asset, take turns: nothing lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nwb_builders import write_session
from nwb_checks import dataset_digests
from sources.dandi_server import NO_MOVIE, OLD, SESSION_0, SESSION_1, SMALL, DandiServer, serve

from hostile.checks import assert_refused, cli, partials
from nwb_v1former.lock import WAIT_ENV
from nwb_v1former.nwb.discover import open_nwb
from nwb_v1former.simulate import simulate_and_write
from nwb_v1former.sources.dandi.download import CHUNK_BYTES

HERE = Path(__file__).parent
CONVERT = [sys.executable, "-m", "nwb_v1former", "convert", f"dandiset:000123@{OLD}", "--quiet"]


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "TMPDIR": str(tmp_path), "OMP_NUM_THREADS": "1", **extra}


@pytest.mark.slow  # 23 s: the output lock is checked by test_a_held_output_is_refused_with_its_holder
def test_two_predictions_in_place_into_one_file_keep_both(source: Path, checkpoint: Path, tmp_path) -> None:
    before = dataset_digests(source)
    result = subprocess.run(
        [sys.executable, str(HERE / "concurrent_predict.py"), str(checkpoint), str(source), "p0", "p1"],
        capture_output=True,
        text=True,
        env=environment(tmp_path),
        timeout=300,
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"p0": 0, "p1": 0}, result.stderr
    assert "waiting for process" in result.stderr, "the second writer waited for the first"
    with open_nwb(source) as nwbfile:
        assert {"p0", "p1"} <= set(nwbfile.processing)
    after = dataset_digests(source)
    assert {path: after[path] for path in before} == before
    assert sorted(path.name for path in source.parent.iterdir()) == ["sim.nwb"], "no partial, no lock left"


def test_a_held_output_is_refused_with_its_holder(
    source: Path, checkpoint: Path, tmp_path, monkeypatch
) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom nwb_v1former.lock import exclusive\n"
            "with exclusive(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(120)",
            str(source),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=environment(tmp_path),
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setenv(WAIT_ENV, "0")
        digest = dataset_digests(source)
        result = cli("predict", checkpoint, source, "--in-place", "--quiet")
        assert_refused(result, f"{source} is being written by process {holder.pid}")
        assert dataset_digests(source) == digest and partials(source.parent) == []
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture(scope="module")
def dandi(tmp_path_factory) -> Iterator[DandiServer]:
    """The stand-in archive of tests/sources, serving two small simulated sessions."""
    root = tmp_path_factory.mktemp("dandi")
    sessions = simulate_and_write(root / "sim", layout="allen", animals=2, progress=False, **SMALL)
    (root / "README.md").write_text("simulated dandiset\n")
    files = {
        SESSION_0: sessions[0].data,
        SESSION_1: sessions[1].data,
        NO_MOVIE: write_session(root / "no-movie.nwb", with_stimulus=False),
        "README.md": root / "README.md",
    }
    server = serve(files)
    yield server
    server.stop()


def test_two_downloads_of_one_asset_into_one_cache_take_turns(dandi: DandiServer, tmp_path) -> None:
    """The first download is interrupted and frozen (SIGSTOP) half-way; the second must wait for it,
    not finish the same partial file under it (the first then resumes into a file that is gone)."""
    cache = tmp_path / "cache"
    asset = dandi.asset("000123", OLD, SESSION_0)
    cached = cache.joinpath("000123", OLD, *SESSION_0.split("/"))
    partial = cached.with_name(cached.name + ".partial")
    options = ["--cache-dir", str(cache), "--dandi-api-url", dandi.api_url]
    env = environment(tmp_path, **{WAIT_ENV: "120"})
    dandi.drop_after, dandi.drops_left = 6 * CHUNK_BYTES, 1  # the first download drops, then retries
    first = subprocess.Popen(
        [*CONVERT, "--out", str(tmp_path / "a"), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    second = None
    try:
        deadline = time.monotonic() + 120
        while first.poll() is None and time.monotonic() < deadline:
            if partial.is_file() and partial.stat().st_size >= 6 * CHUNK_BYTES:
                break
            time.sleep(0.001)
        first.send_signal(signal.SIGSTOP)
        assert first.poll() is None, first.communicate()
        second = subprocess.Popen(
            [*CONVERT, "--out", str(tmp_path / "b"), *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for line in second.stderr:  # until it waits for the first, or (unlocked) finishes without it
            if "waiting for process" in line:
                break
        first.send_signal(signal.SIGCONT)
        outputs = [process.communicate(timeout=300) for process in (first, second)]
    finally:
        dandi.drop_after, dandi.drops_left = None, 0
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait()
    assert (first.returncode, second.returncode) == (0, 0), outputs
    assert cached.read_bytes() == dandi.blobs[asset.blob]
    assert partials(cache) == [] and not list(cache.rglob("*.lock"))
    for out in ("a", "b"):
        assert len(list((tmp_path / out).glob("*/meta.json"))) == 1
