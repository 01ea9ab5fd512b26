"""Models for training: a fresh one from a preset (pretrain), or a pretrained core with fresh heads.

A base model is named by a checkpoint path, a published name (`viv1t-2025`, resolved through the
Hugging Face Hub) or a core shipped inside the package (`tiny-sim`, trained on SIMULATED data).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import numpy as np

from nwb_v1former.data.stats import Normalizer
from nwb_v1former.data.store import SessionStore
from nwb_v1former.errors import CheckpointError
from nwb_v1former.grid import FRAME_HEIGHT, FRAME_WIDTH
from nwb_v1former.model.checkpoint import CheckpointFile, open_checkpoint
from nwb_v1former.model.config import ModelConfig
from nwb_v1former.model.importer import PUBLISHED, resolve_published
from nwb_v1former.model.model import V1Former
from nwb_v1former.model.provenance import BaseCore, Provenance
from nwb_v1former.run_folder import checkpoint_file

SHIPPED = {"tiny-sim": "tiny-sim.ckpt"}
"""Cores inside the package (nwb_v1former/weights/); see nwb_v1former/weights/README.md."""


def resolve_base(reference: str | Path) -> Path:
    """The checkpoint file behind `reference`: a shipped core, a published name, or as every command
    reads a CHECKPOINT (a .ckpt file, or a run folder meaning its best.ckpt)."""
    name = str(reference)
    if name in SHIPPED:
        return Path(str(files("nwb_v1former.weights") / SHIPPED[name]))
    if name.partition(":")[0] in PUBLISHED:
        return resolve_published(name)
    try:
        return checkpoint_file(name)
    except CheckpointError:  # say what else a base can be
        raise CheckpointError(
            "no such checkpoint file; give a .ckpt file or a run folder, a shipped core "
            f"({', '.join(SHIPPED)}) or a published model ({', '.join(PUBLISHED)})",
            where=name,
        ) from None


def base_core(reference: str | Path, base: CheckpointFile) -> BaseCore:
    """What a fine-tuned model inherits: the base's name, file digest, preset and data origin."""
    payload = base.payload
    parent = Provenance.of_checkpoint(payload)
    return BaseCore(
        name=str(reference),
        sha256=base.sha256,
        preset=payload["config"]["preset"],
        trained_on_simulated_data=parent.trained_on_simulated_data,
        training_data=parent.all_training_data,
    )


def check_frames(config: ModelConfig, source: str) -> None:
    """The core must take the common dataset's 36 x 64 frames."""
    if tuple(config.frame_shape) != (FRAME_HEIGHT, FRAME_WIDTH):
        height, width = config.frame_shape
        raise CheckpointError(
            f"its core takes {height}x{width} frames but converted sessions are "
            f"{FRAME_HEIGHT}x{FRAME_WIDTH}; use a checkpoint trained on the common dataset",
            where=source,
        )


def initial_bias(store: SessionStore) -> np.ndarray:
    """(N,) readout bias whose ELU+1 output is each neuron's mean normalised training response."""
    mean = Normalizer.from_statistics(store.statistics).responses(store.statistics["responses_mean"][None])[0]
    mean = np.clip(mean, 1e-3, None)
    return np.where(mean > 1, mean - 1, np.log(mean)).astype(np.float32)


def add_sessions(model: V1Former, stores: list[SessionStore]) -> V1Former:
    """Fresh readout, shifter and activation for each store, biases from its mean responses."""
    for store in stores:
        model.add_session(store.key, store.roi_ids, store.coordinates, initial_bias(store))
    return model


def model_for_finetune(base: V1Former, stores: list[SessionStore], source: str) -> V1Former:
    """A model with `base`'s core weights and fresh heads for `stores` (the base's heads are dropped)."""
    check_frames(base.config, source)
    model = V1Former(base.config)
    model.core.load_state_dict(base.core.state_dict())
    return add_sessions(model, stores)


def load_base(reference: str | Path) -> tuple[V1Former, BaseCore]:
    """The base model and what a model fine-tuned from it records of it."""
    base = open_checkpoint(resolve_base(reference))  # read once: the digest recorded is of the weights used
    return base.model(), base_core(reference, base)
