"""One small simulated session (MICrONS layout: gzip-chunked movie, responses and image masks), its
store and an untrained checkpoint, shared by every hostile-input test (mutations: mutations.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from prediction_helpers import checkpoint_for, simulated_session


@dataclass(frozen=True)
class Session:
    """The shared simulated session: its NWB file, converted store and a checkpoint with its readout."""

    nwb: Path
    store: Path
    checkpoint: Path


@pytest.fixture(scope="session")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    """20 neurons, 1 minute of 2-second clips, one plane: converts in a second or two."""
    root = tmp_path_factory.mktemp("hostile")
    nwb, store = simulated_session(root, "microns", neurons=20, minutes=1.0, clip_seconds=2.0, planes=1)
    return Session(nwb, store.folder, checkpoint_for(store, root / "micro.ckpt"))
