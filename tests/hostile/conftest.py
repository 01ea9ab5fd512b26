"""Shared simulated sessions for the hostile-input tests, made once; each test works on copies.

`simulated` (allen layout) serves the output-safety tests; `session` (MICrONS layout: gzip-chunked
movie, responses and image masks) the input tests, whose mutations are in mutations.py.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from prediction_helpers import MICRO, checkpoint_for, simulated_session

from nwb_v1former.data.store import SessionStore
from nwb_v1former.model import V1Former
from nwb_v1former.model.checkpoint import save_checkpoint


@pytest.fixture(scope="session")
def simulated(tmp_path_factory) -> tuple[Path, SessionStore, Path]:
    """An NWB session (15 neurons, 1 minute of 2 s clips), its store, and an untrained MICRO checkpoint."""
    root = tmp_path_factory.mktemp("hostile")
    source, store = simulated_session(
        root, "allen", neurons=15, minutes=1.0, clip_seconds=2.0, planes=1, seed=9
    )
    return source, store, checkpoint_for(store, root / "micro.ckpt")


@pytest.fixture
def source(simulated, tmp_path) -> Path:
    """A private copy of the session at tmp_path/d/sim.nwb."""
    path = tmp_path / "d" / "sim.nwb"
    path.parent.mkdir()
    return Path(shutil.copyfile(simulated[0], path))


@pytest.fixture
def checkpoint(simulated) -> Path:
    return simulated[2]


@pytest.fixture(scope="session")
def base(tmp_path_factory) -> Path:
    """An untrained MICRO core to fine-tune from (fresh readouts; one epoch takes seconds)."""
    return save_checkpoint(V1Former(MICRO), tmp_path_factory.mktemp("base") / "base.ckpt")


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
