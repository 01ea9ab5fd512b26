"""`evaluate`: a checkpoint scored on converted sessions, per session and per neuron."""

from __future__ import annotations

from pathlib import Path

from nwb_v1former.data.store import open_stores
from nwb_v1former.device import pick_device
from nwb_v1former.inference.evaluation import SessionEvaluation, evaluate_session
from nwb_v1former.model.checkpoint import load_checkpoint


def evaluate(
    checkpoint: str | Path, data: list[str | Path], *, tier: str = "test", device: str | None = None
) -> list[SessionEvaluation]:
    """Score `checkpoint` on the `tier` trials of every converted session in `data` (its own readouts)."""
    chosen = pick_device(device)
    model = load_checkpoint(checkpoint).to(chosen)
    stores = [store for folder in data for store in open_stores(folder)]
    return [evaluate_session(model, store, tier=tier, device=chosen) for store in stores]
