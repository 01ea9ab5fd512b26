"""Checkpoints: one file of tensors and plain data (weights_only=True), config, sessions, code version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from nwb_v1former import __version__
from nwb_v1former.atomic import atomic_output
from nwb_v1former.errors import CheckpointError, ConfigError
from nwb_v1former.model.config import ModelConfig
from nwb_v1former.model.model import V1Former

FORMAT = "nwb-v1former-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(
    model: V1Former, path: str | Path, *, extra: dict[str, Any] | None = None, overwrite: bool = True
) -> Path:
    """Write `model` atomically: weights, config, each session's ROI ids and coordinates, code version.

    `extra` holds plain data (str, int, float, bool, lists and dicts of them), e.g. provenance.
    """
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "code_version": __version__,
        "config": model.config.to_dict(),
        "sessions": {
            key: {
                "roi_ids": torch.from_numpy(np.asarray(info.roi_ids, dtype=np.int64)),
                "coordinates": torch.from_numpy(np.asarray(info.coordinates, dtype=np.float32)),
            }
            for key, info in model.sessions.items()
        },
        "state_dict": {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()},
        "extra": extra or {},
    }
    with atomic_output(path, overwrite=overwrite) as temporary:
        torch.save(payload, temporary)
    return Path(path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The raw checkpoint dict, loaded without unpickling code (weights_only=True)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for damaged or foreign files
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({type(error).__name__}: {error})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not an nwb-v1former checkpoint; for the authors' ViV1T checkpoints run "
            "`nwb-v1former import-viv1t` first"
        )
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {payload.get('format_version')} is not supported")
    return payload


def load_checkpoint(path: str | Path) -> V1Former:
    """Rebuild the model of a checkpoint, in eval mode, with every session's heads."""
    payload = read_checkpoint(path)
    try:
        model = V1Former(ModelConfig.from_dict(payload["config"]))
        for key, session in payload["sessions"].items():
            model.add_session(key, session["roi_ids"].numpy(), session["coordinates"].numpy())
        model.load_state_dict(payload["state_dict"], strict=True)
    except (ConfigError, RuntimeError, KeyError) as error:
        raise CheckpointError(f"{path}: checkpoint does not fit its own config ({error})") from None
    return model.eval()
