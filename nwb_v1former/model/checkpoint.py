"""Checkpoints: one file of tensors and plain data (weights_only=True), config, sessions, code version."""

from __future__ import annotations

import hashlib
import io
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nwb_v1former import __version__
from nwb_v1former.atomic import OutputKind, atomic_output
from nwb_v1former.errors import CheckpointError, ConfigError, OutputError, detail
from nwb_v1former.model.config import ModelConfig
from nwb_v1former.model.model import V1Former

FORMAT = "nwb-v1former-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(
    model: V1Former, path: str | Path, *, extra: dict[str, Any] | None = None, overwrite: bool = True
) -> Path:
    """Write `model` atomically: weights, config, each session's ROI ids and coordinates, code version.

    `extra` holds plain data (str, int, float, bool, lists and dicts of them), e.g. provenance.
    Weights holding NaN or infinity are refused: such a file would load and predict NaN everywhere.
    """
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    bad = non_finite(state)
    if bad:
        raise CheckpointError(
            f"not written: the weights hold NaN or infinity ({', '.join(bad[:3])}); "
            "the training diverged: train again with lower learning rates",
            where=path,
        )
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
        "state_dict": state,
        "extra": extra or {},
    }
    with atomic_output(path, overwrite=overwrite, kind=CHECKPOINT) as temporary:
        try:
            torch.save(payload, temporary)
        except RuntimeError as error:  # torch reports a failed write (disk full, size limit) this way
            raise OutputError(
                f"cannot be written ({detail(error, 80)}); is the disk full? free space or "
                "choose another output",
                where=path,
            ) from None
    return Path(path)


def is_checkpoint(path: Path) -> bool:
    """Whether `path` is a file in this tool's checkpoint format (what --overwrite may replace)."""
    if not path.is_file() or path.is_symlink():
        return False
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # damaged, foreign or pickled: not ours, so not replaced
        return False
    return isinstance(payload, dict) and payload.get("format") == FORMAT


CHECKPOINT = OutputKind("an nwb-v1former checkpoint", is_checkpoint)


def non_finite(state: Mapping[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors of `state` that hold NaN or infinity."""
    return [
        name
        for name, value in state.items()
        if torch.is_tensor(value) and value.is_floating_point() and not torch.isfinite(value).all()
    ]


def load_tensors(path: Path, advice: str, data: bytes | None = None) -> Any:
    """torch.load with weights_only=True, of the file at `path` or of its bytes already read (`data`); any
    failure is one CheckpointError line ending in `advice` (never torch's own advice, which suggests the
    unsafe weights_only=False)."""
    try:
        return torch.load(path if data is None else io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"not a readable checkpoint: it holds Python objects besides tensors, never loaded "
            f"(that could run code); {advice}",
            where=path,
        ) from None
    except Exception as error:  # torch raises many types for damaged or foreign files
        raise CheckpointError(f"not a readable checkpoint ({detail(error)}); {advice}", where=path) from None


@dataclass(frozen=True, eq=False)
class CheckpointFile:
    """A checkpoint as read once: its path, its contents, and the sha256 of exactly the bytes they were
    loaded from (so provenance names the weights that were used, even if the file is replaced meanwhile)."""

    path: Path
    payload: dict[str, Any]
    sha256: str

    def model(self) -> V1Former:
        """The model it holds, in eval mode, with every session's heads."""
        payload = self.payload
        try:
            model = V1Former(ModelConfig.from_dict(payload["config"]))
            for key, session in payload["sessions"].items():
                model.add_session(key, session["roi_ids"].numpy(), session["coordinates"].numpy())
            model.load_state_dict(payload["state_dict"], strict=True)
        except (ConfigError, RuntimeError, KeyError) as error:
            raise CheckpointError(
                f"checkpoint does not fit its own config ({error})", where=self.path
            ) from None
        return model.eval()


def open_checkpoint(path: str | Path) -> CheckpointFile:
    """Read a checkpoint file once and load it without unpickling code (weights_only=True).

    Refused in one line: a damaged or foreign file, one holding Python objects (never unpickled: that
    would run code from the file), and weights holding NaN or infinity (they would predict NaN).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("no such checkpoint file", where=path)
    data = path.read_bytes()
    payload = load_tensors(
        path, "for the authors' ViV1T checkpoints run `nwb-v1former import-viv1t` on their run folder", data
    )
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            "not an nwb-v1former checkpoint; for the authors' ViV1T checkpoints run "
            "`nwb-v1former import-viv1t` first",
            where=path,
        )
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint format {payload.get('format_version')} is not supported", where=path
        )
    bad = non_finite(payload.get("state_dict") or {})
    if bad:
        raise CheckpointError(
            f"the weights hold NaN or infinity ({', '.join(bad[:3])}); the training that wrote "
            "it diverged: train again",
            where=path,
        )
    return CheckpointFile(path, payload, hashlib.sha256(data).hexdigest())


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The raw checkpoint dict (see `open_checkpoint`)."""
    return open_checkpoint(path).payload


def load_checkpoint(path: str | Path) -> V1Former:
    """Rebuild the model of a checkpoint, in eval mode, with every session's heads."""
    return open_checkpoint(path).model()
