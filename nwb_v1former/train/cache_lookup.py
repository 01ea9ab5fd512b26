"""A training run's feature cache, found again for inference: used only where its key matches exactly.

Readout fine-tuning runs the frozen core once over the training windows and the validation and test
trials (nwb_v1former.train.feature_cache). The final score, `evaluate` and `predict` score the same
trials cut the same way, so they can read the core's output back instead of computing it again,
provided the cache was built from these very inputs and core weights: its key's core digest, input
digest (video, behaviour, pupil centre and their normalisation) and format must equal those of the
model and store at hand, the cache must be complete and pass its checksums. Its values must also be
as exact as the precision asked for: a float32 request is served only by a float32 cache of a float32
pass; a bf16 request by any (float16 storage rounds to 2^-11, finer than bf16's 2^-8).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from nwb_v1former.data.store import SessionStore
from nwb_v1former.model.model import V1Former
from nwb_v1former.run_folder import CONFIG, FEATURE_CACHE, RunFolder
from nwb_v1former.train.feature_cache import (
    FORMAT_VERSION,
    DamagedCache,
    SessionCache,
    inputs_digest,
    tensor_digest,
)
from nwb_v1former.train.run_config import read_run_config


def run_cache_directory(checkpoint: Path) -> Path | None:
    """The feature cache folder of the run a checkpoint belongs to (RUN/best.ckpt), None outside a run."""
    run = RunFolder(checkpoint.parent)
    if not (run / CONFIG).is_file():
        return None
    cache = read_run_config(run).feature_cache
    if cache is None:
        return None
    return Path(cache.directory) if cache.directory is not None else run / FEATURE_CACHE


def serves(key: dict, precision: str) -> bool:
    """Whether a cache with `key` is exact enough for a request at `precision` ("bf16" or "float32")."""
    return precision == "bf16" or (key["precision"] == "float32" and key["dtype"] == "float32")


def matching_cache(
    directory: Path | None, model: V1Former, store: SessionStore, precision: str
) -> SessionCache | None:
    """The complete, undamaged cache under `directory` built from `model`'s core and `store`'s inputs
    and exact enough for `precision`, else None."""
    if directory is None or not directory.is_dir():
        return None
    candidates = []
    for folder in sorted(directory.glob("*-*")):
        try:
            key = json.loads((folder / "key.json").read_text())
        except (OSError, ValueError):
            continue
        if key.get("format_version") == FORMAT_VERSION and serves(key, precision):
            candidates.append((folder, key))
    if not candidates:
        return None
    core_digest, data_digest = tensor_digest(model.core), inputs_digest(store)
    core_config = dataclasses.asdict(model.config.core)
    for folder, key in candidates:
        if (key["core_sha256"], key["inputs_sha256"]) != (core_digest, data_digest):
            continue
        if json.loads(json.dumps(core_config)) != key["core_config"]:
            continue
        with np.load(folder / "pieces.npz") as table:
            pieces = np.stack([table["start"], table["length"]], axis=1)
        cache = SessionCache(folder, pieces, (model.config.core.emb_dim, *model.core.grid), key["dtype"])
        try:
            if cache.complete:
                cache.check_whole()
                return cache
        except DamagedCache:
            continue
    return None
