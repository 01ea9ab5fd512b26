"""Sessions whose every clip repeats (Allen natural movies, many lab designs) train with no leak."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from nwb_v1former.cli.main import main

from nwb_v1former.data.store import open_stores
from nwb_v1former.metrics import SKIP_FRAMES
from nwb_v1former.nwb.trials import segment_bounds
from nwb_v1former.simulate import simulate_and_write

QUICK = ["--from", "tiny-sim", "--max-epochs", "1", "--warmup-steps", "2", "--quiet", "--no-report"]


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(arg) for arg in args])
    return result.exit_code, result.output


def frame_hashes(video: np.ndarray, first: int, stop: int) -> set[str]:
    return {hashlib.sha1(np.ascontiguousarray(frame).tobytes()).hexdigest() for frame in video[first:stop]}


def assert_no_leak(store_folder: Path) -> dict[str, int]:
    """No frame of a validation or test tick is shown in any training tick; every tier is scorable."""
    (store,) = open_stores(store_folder)
    trials, seen = store.trials, {"train": set(), "held out": set()}
    for first, stop, tier in zip(trials.first_tick, trials.stop_tick, trials.tier, strict=True):
        seen["train" if tier == "train" else "held out"] |= frame_hashes(store.video, first, stop)
    assert seen["train"] and seen["held out"] and not seen["train"] & seen["held out"]
    lengths = trials.stop_tick - trials.first_tick
    for tier in ("validation", "test"):
        assert (lengths[trials.tier == tier] > SKIP_FRAMES).any(), tier
    return {tier: int((trials.tier == tier).sum()) for tier in ("train", "validation", "test")}


@pytest.mark.parametrize(
    ("name", "clips", "clip_seconds", "minutes", "expected_split"),
    [
        ("few short clips", 4, 3.0, 1.5, "whole clips"),
        pytest.param("one long movie", 1, 30.0, 2.5, "split by time", marks=pytest.mark.slow),
    ],
)
def test_a_session_whose_every_clip_repeats_converts_finetunes_and_predicts(
    tmp_path: Path, name: str, clips: int, clip_seconds: float, minutes: float, expected_split: str
) -> None:
    (session,) = simulate_and_write(
        tmp_path / "nwb",
        layout="allen",
        progress=False,
        seed=12,
        neurons=30,
        minutes=minutes,
        clip_seconds=clip_seconds,
        repeated_clips=clips,
        only_repeats=True,
    )
    code, output = run("convert", session.data, "--out", tmp_path / "store", "--quiet")
    assert code == 0, output
    (meta,) = [json.loads(p.read_text()) for p in (tmp_path / "store").glob("*/meta.json")]
    assert meta["split"] == "auto" and expected_split in meta["tiers"], meta["tiers"]
    counts = assert_no_leak(tmp_path / "store")
    assert min(counts.values()) >= 1, counts

    code, output = run("finetune", tmp_path / "store", "--out", tmp_path / "run", "--window", "60", *QUICK)
    assert code == 0, output
    code, output = run(
        "predict", tmp_path / "run" / "best.ckpt", session.data, "--out", tmp_path / "p.nwb", "--quiet"
    )
    assert code == 0, output and (tmp_path / "p.nwb").is_file()


def test_every_split_can_be_chosen_and_a_wrong_choice_is_one_line(tmp_path: Path) -> None:
    (session,) = simulate_and_write(
        tmp_path / "nwb",
        layout="allen",
        progress=False,
        seed=13,
        neurons=15,
        minutes=1.5,
        clip_seconds=6.0,
        repeated_clips=4,
        only_repeats=True,
    )
    code, output = run(
        "convert", session.data, "--out", tmp_path / "segments", "--split", "segments", "--quiet"
    )
    assert code == 0, output
    assert_no_leak(tmp_path / "segments")
    code, output = run("convert", session.data, "--out", tmp_path / "file", "--split", "file", "--quiet")
    assert (
        code == 1
        and output.strip().splitlines()
        == [
            f"Error: {session.data}: the file has no tier column; "
            "choose --split auto, stimulus, clips or segments"
        ]
        and not (tmp_path / "file").exists()
    )


def test_segments_keep_held_out_pieces_longer_than_the_burn_in() -> None:
    for length in (300, 900, 3600):
        (_, train, _), (first, stop, _), (test_first, test_stop, _) = segment_bounds(length)
        assert stop - first > SKIP_FRAMES and test_stop - test_first > SKIP_FRAMES and test_stop == length
        assert train >= 0.6 * length if length >= 900 else train > SKIP_FRAMES
    with pytest.raises(Exception, match="too short to cut"):
        segment_bounds(120)
