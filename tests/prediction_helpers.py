"""Small sessions, stores and checkpoints for the prediction tests (tests/nwb/test_write.py, tests/cli)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
from pynwb import NWBHDF5IO
from pynwb.image import OpticalSeries

from nwb_v1former.data.store import SessionStore
from nwb_v1former.model import V1Former
from nwb_v1former.model.checkpoint import save_checkpoint
from nwb_v1former.model.config import CoreConfig, preset
from nwb_v1former.nwb.convert import convert
from nwb_v1former.simulate import simulate_and_write

MICRO = dataclasses.replace(
    preset("tiny"),
    core=CoreConfig(
        emb_dim=8,
        num_heads=1,
        head_dim=4,
        ff_dim=8,
        spatial_depth=1,
        temporal_depth=1,
        patch_frames=1,
        patch_size=8,
        patch_stride=8,
        register_tokens=0,
    ),
)
"""An even smaller untrained model than `tiny`: predictions in seconds, for file-level properties."""


def simulated_session(root: Path, layout: str, **options) -> tuple[Path, SessionStore]:
    """One simulated NWB session and its converted store."""
    settings = {"neurons": 12, "minutes": 0.5, "clip_seconds": 1.0, "planes": 2, "seed": 5, **options}
    session = simulate_and_write(root / "sim", layout=layout, progress=False, **settings)[0]
    return session.data, SessionStore(convert([session.data], root / "store", progress=False)[0].folder)


def suite2p_with_movie(real_file: Path, path: Path) -> Path:
    """A copy of the real suite2p file with a 30 Hz stimulus movie added over its 25 s of imaging."""
    shutil.copyfile(real_file, path)
    frames = np.random.default_rng(0).integers(0, 255, (750, 36, 64), dtype=np.uint8)
    with NWBHDF5IO(path, "a") as io:
        nwbfile = io.read()
        nwbfile.add_acquisition(
            OpticalSeries(
                name="movie",
                data=frames,
                unit="n.a.",
                format="raw",
                rate=30.0,
                starting_time=0.0,
                distance=0.1,
                field_of_view=[0.3, 0.2],
                orientation="lower left is (0, 0)",
                description="Frames shown to the animal (added by the test).",
            )
        )
        io.write(nwbfile)
    return path


def checkpoint_for(store: SessionStore, path: Path, *, extra: dict | None = None) -> Path:
    """An untrained MICRO model with a readout for `store`, saved as a checkpoint."""
    model = V1Former(MICRO)
    model.add_session(store.key, store.roi_ids, store.coordinates)
    return save_checkpoint(model, path, extra=extra)
