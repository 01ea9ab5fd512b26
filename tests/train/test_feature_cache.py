"""A frozen core's output computed once: same steps as through the core, keyed, completed after a kill."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from nwb_v1former.data.store import open_stores
from nwb_v1former.errors import ConfigError
from nwb_v1former.model.checkpoint import read_checkpoint
from nwb_v1former.model.provenance import Provenance
from nwb_v1former.pipeline.train import RunOptions, finetune
from nwb_v1former.progress import Reporter
from nwb_v1former.run_folder import RunFolder
from nwb_v1former.train.config import TrainConfig
from nwb_v1former.train.distributed import Worker
from nwb_v1former.train.feature_cache import (
    CacheConfig,
    SessionPieces,
    _data_offset,
    open_caches,
    session_pieces,
)
from nwb_v1former.train.finetune import load_base, model_for_finetune
from nwb_v1former.train.loop import Trainer
from nwb_v1former.train.sessions import training_sessions

QUICK = {"strategy": "readout", "max_epochs": 2, "warmup_steps": 5, "window": 60, "seed": 4}
CPU = Worker(0, 1, torch.device("cpu"))
FLOAT16_RELATIVE = 2e-3
"""Float16 keeps 11 significant bits (relative rounding <= 4.9e-4 per value): measured here, loss and head
gradients from a float16 cache stay within 6e-4 of the float32 path; 2e-3 leaves room, and fails if the
cache held the wrong window (errors of order 1)."""


def trainer(store_folder: Path, run: Path, cache: CacheConfig | None, precision: str = "float32") -> Trainer:
    stores = open_stores(store_folder)
    config = TrainConfig(**QUICK, precision=precision)
    torch.manual_seed(0)
    base, _ = load_base("tiny-sim")
    model = model_for_finetune(base, stores, "tiny-sim")
    folder = RunFolder(run)
    folder.prepare(resume=False, overwrite=False)
    return Trainer(
        model,
        training_sessions(stores, config, model.config.window),
        config,
        folder,
        worker=CPU,
        provenance=Provenance(),
        feature_cache=cache,
    )


def one_step(trainer: Trainer) -> tuple[float, dict[str, torch.Tensor]]:
    """Loss and head gradients of the first step of epoch 0 (as `fit` runs it)."""
    trainer._set_phase(0)
    trainer.model.train()
    trainer.model.core.eval()
    batch = trainer._steps(0)[0]
    loss = float(trainer._train_step(0, 0, batch).losses.sum())
    gradients = {
        name: p.grad.clone() for name, p in trainer.model.named_parameters() if not name.startswith("core.")
    }
    return loss, gradients


@pytest.mark.parametrize(("dtype", "tolerance"), [("float32", 1e-5), ("float16", FLOAT16_RELATIVE)])
def test_a_step_from_the_cache_equals_a_step_through_the_frozen_core(
    one_store: Path, tmp_path: Path, dtype: str, tolerance: float
) -> None:
    loss, gradients = one_step(trainer(one_store, tmp_path / "core", None))
    cached_loss, cached_gradients = one_step(
        trainer(one_store, tmp_path / "cached", CacheConfig(dtype=dtype))
    )
    assert cached_loss == pytest.approx(loss, rel=tolerance)
    assert gradients.keys() == cached_gradients.keys() and len(gradients) > 0
    for name, gradient in gradients.items():
        error = (cached_gradients[name] - gradient).norm() / gradient.norm().clamp_min(1e-12)
        assert error < tolerance, (name, float(error))
    assert (tmp_path / "cached" / "feature-cache").is_dir() and not (
        tmp_path / "core" / "feature-cache"
    ).exists()


def test_a_readout_finetune_ends_at_the_same_validation_correlation(one_store: Path, tmp_path: Path) -> None:
    """The default cache (float16, bf16 pass where the CPU has AMX) against the core at every step."""
    scores = {}
    for name, cache in (("cached", CacheConfig()), ("core", None)):
        config = TrainConfig(**QUICK)
        result = finetune(
            [one_store],
            tmp_path / name,
            base="tiny-sim",
            config=config,
            options=RunOptions(report=False, feature_cache=cache),
        )
        scores[name] = result
    assert scores["cached"].best_score == pytest.approx(scores["core"].best_score, abs=0.01)
    cached, core = (scores[name].evaluation["summary"] for name in ("cached", "core"))
    for key in core:
        assert cached[key]["single_trial_correlation"] == pytest.approx(
            core[key]["single_trial_correlation"], abs=0.01
        )
    provenance = read_checkpoint(tmp_path / "cached" / "best.ckpt")["extra"]["provenance"]
    assert provenance["strategy"] == "readout"


def caches_for(one_store: Path, directory: Path, capsys: pytest.CaptureFixture | None, model=None):
    """The caches of `one_store` in `directory`, and the lines open_caches said (none without capsys)."""
    stores = open_stores(one_store)
    config = TrainConfig(**QUICK)
    if model is None:
        base, _ = load_base("tiny-sim")
        model = model_for_finetune(base, stores, "tiny-sim")
    rule = model.config.window
    sessions = training_sessions(stores, config, rule)
    pieces = [
        SessionPieces(
            s.store, session_pieces(s.store, s.windows.starts, s.windows.window, s.validation, rule)
        )
        for s in sessions
    ]
    if capsys is not None:
        capsys.readouterr()
    caches = open_caches(
        model,
        pieces,
        directory,
        "float32",
        device=torch.device("cpu"),
        precision="float32",
        reporter=Reporter("lines"),
    )
    return model, caches, capsys.readouterr().err.splitlines() if capsys is not None else []


@dataclass(frozen=True)
class FirstBuild:
    """A directory holding one complete float32 cache of one_store, what its build said, and its bytes."""

    directory: Path
    lines: list[str]
    reference: np.ndarray


@pytest.fixture(scope="module")
def first_build(one_store: Path, tmp_path_factory: pytest.TempPathFactory) -> FirstBuild:
    """The cache built once through the tiny-sim core (the expensive part); each test that interrupts,
    damages or reads a cache works on its own copy, so every rebuild below is still a real build."""
    directory = tmp_path_factory.mktemp("first-build")
    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        _, caches, _ = caches_for(one_store, directory, None)
    ((_, cache),) = caches.items()
    assert cache.complete
    reference = np.load(cache.path)
    cache.close()
    return FirstBuild(directory, said.getvalue().splitlines(), reference)


def copy_of(first_build: FirstBuild, directory: Path) -> None:
    """The first build's cache folder, copied into `directory` (a test's own)."""
    shutil.copytree(first_build.directory, directory, dirs_exist_ok=True)


def test_an_interrupted_build_is_completed_and_a_changed_key_rebuilds(
    one_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture, first_build: FirstBuild
) -> None:
    lines = first_build.lines  # the build of an empty directory: size and place said first
    assert any("GB" in line and str(first_build.directory) in line for line in lines), lines
    copy_of(first_build, tmp_path)
    model, caches, lines = caches_for(one_store, tmp_path, capsys)
    assert lines == []  # the copy is complete: reused, not built again
    ((key, cache),) = caches.items()
    reference = np.load(cache.path)
    assert np.array_equal(reference, first_build.reference)
    pieces = len(cache.starts)
    assert pieces > 3 and reference.shape[0] == cache.lengths.sum()

    # A kill after 2 pieces: later pieces' bytes never written, progress says 2.
    half = int(cache.offsets[2]) * cache.tick_bytes
    with open(cache.path, "r+b") as handle:
        handle.seek(-reference.nbytes + half, 2)
        handle.write(b"\x00" * (reference.nbytes - half))
    checksums = json.loads((cache.folder / "progress.json").read_text())["crc32"]
    (cache.folder / "progress.json").write_text(json.dumps({"pieces": 2, "crc32": checksums[:2]}))
    _, again, lines = caches_for(one_store, tmp_path, capsys, model)
    assert again[key].folder == cache.folder and again[key].complete
    assert np.array_equal(np.load(cache.path), reference)
    assert any("done" in line for line in lines)

    # A complete cache is reused without a word; other core weights key a new one and the old goes.
    _, reused, lines = caches_for(one_store, tmp_path, capsys, model)
    assert lines == [] and reused[key].folder == cache.folder
    with torch.no_grad():
        next(model.core.parameters()).add_(0.01)
    _, changed, _ = caches_for(one_store, tmp_path, capsys, model)
    assert changed[key].folder != cache.folder and not cache.folder.exists()
    assert [p.name for p in tmp_path.iterdir()] == [changed[key].folder.name]


def test_a_cache_the_disk_cannot_hold_is_refused_before_any_work(one_store: Path, tmp_path: Path) -> None:
    (store,) = open_stores(one_store)
    base, _ = load_base("tiny-sim")
    model = model_for_finetune(base, [store], "tiny-sim")
    too_long = [SessionPieces(store, np.array([[0, 10**9]]))]  # ~9 TB of features
    with pytest.raises(ConfigError, match="free space"):
        open_caches(
            model, too_long, tmp_path / "cache", "float16", device=torch.device("cpu"), precision="float32"
        )
    assert not (tmp_path / "cache").exists()


def _alter(path: Path, start: int, values: bytes) -> None:
    with open(path, "r+b") as handle:
        handle.seek(start)
        handle.write(values)


DAMAGES = {
    "finite values altered": lambda cache: _alter(
        cache.path, cache.path.stat().st_size - 4096, np.full(1024, 0.5, np.float32).tobytes()
    ),
    "2000 bytes flipped": lambda cache: _alter(
        cache.path, cache.path.stat().st_size // 2, bytes(b ^ 0xFF for b in cache.path.read_bytes()[:2000])
    ),
    "truncated to half": lambda cache: os.truncate(cache.path, cache.path.stat().st_size // 2),
    "progress.json garbage": lambda cache: (cache.folder / "progress.json").write_text("{garbage"),
}


@pytest.mark.parametrize(
    "damage",
    [  # each case is a build and a rebuild (8 s): one covers the bytes by default
        pytest.param(name, marks=[] if name == "2000 bytes flipped" else [pytest.mark.slow])
        for name in DAMAGES
    ],
)
def test_a_damaged_cache_is_built_again_with_a_line(
    one_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture, damage: str, first_build: FirstBuild
) -> None:
    """#28.1: the cache's key covers its inputs, not its own bytes; those are checked when it is opened."""
    copy_of(first_build, tmp_path)
    model, caches, lines = caches_for(one_store, tmp_path, capsys)
    assert lines == []  # the copy is complete: reused, not built again
    ((key, cache),) = caches.items()
    reference = np.load(cache.path)
    assert np.array_equal(reference, first_build.reference)
    DAMAGES[damage](cache)
    _, again, lines = caches_for(one_store, tmp_path, capsys, model)
    assert any(f"{cache.folder} is damaged" in line and "building it again" in line for line in lines), lines
    assert again[key].complete and np.array_equal(np.load(cache.path), reference)


def test_a_piece_damaged_while_a_run_reads_it_is_one_error(
    one_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture, first_build: FirstBuild
) -> None:
    copy_of(first_build, tmp_path)
    _, caches, lines = caches_for(one_store, tmp_path, capsys)
    assert lines == []  # the copy is complete: reused, not built again
    ((_, cache),) = caches.items()
    start, length = int(cache.starts[1]), int(cache.lengths[1])
    first = cache.read(start, length)
    assert torch.equal(cache.read(start, length), first)
    with open(cache.path, "rb") as handle:
        offset = _data_offset(handle) + int(cache.offsets[1]) * cache.tick_bytes
    _alter(cache.path, offset, b"\x00" * 16)
    with pytest.raises(ConfigError, match="changed while this run read it"):
        cache.read(start, length)
    cache.close()
