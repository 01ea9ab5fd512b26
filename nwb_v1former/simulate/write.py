"""Simulate animals and write them in one of the real-world layouts, with ground truth and a manifest."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from nwb_v1former import __version__
from nwb_v1former.atomic import atomic_output, folder_kind, visible_entries
from nwb_v1former.errors import ConfigError
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.simulate.config import SimulationConfig
from nwb_v1former.simulate.recording import Recording, simulate
from nwb_v1former.simulate.truth import write_truth
from nwb_v1former.simulate.writers.allen import write_allen
from nwb_v1former.simulate.writers.microns import write_microns
from nwb_v1former.simulate.writers.openscope import write_openscope
from nwb_v1former.simulate.writers.sensorium import sensorium_folder_name, write_sensorium

MANIFEST = "simulation.json"


@dataclass(frozen=True)
class Layout:
    """How one real-world layout is written: its writer, data path and the imaging it implies."""

    writer: Callable[..., Path]
    data_name: Callable[[Recording], str]
    imaging_rate: float
    on_ticks: bool = False


LAYOUTS: dict[str, Layout] = {
    "allen": Layout(write_allen, lambda r: f"{r.session_id}.nwb", imaging_rate=30.0),
    "openscope": Layout(write_openscope, lambda r: f"{r.session_id}.nwb", imaging_rate=30.0),
    "microns": Layout(write_microns, lambda r: f"{r.session_id}.nwb", imaging_rate=6.3),
    "sensorium": Layout(write_sensorium, sensorium_folder_name, imaging_rate=TICK_RATE_HZ, on_ticks=True),
}


@dataclass(frozen=True)
class SimulatedSession:
    """Where one simulated animal was written."""

    session_id: str
    data: Path
    truth: Path
    config: SimulationConfig


def is_simulation(path: Path) -> bool:
    """Whether the folder `path` holds only what `simulate` wrote: our simulation.json, naming every other
    visible entry (dot-files, i.e. partial writes and locks, aside)."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
        named = {MANIFEST} | {session[key] for session in manifest["sessions"] for key in ("data", "truth")}
        ours = str(manifest["generator"]).startswith("nwb-v1former")
    except (OSError, ValueError, KeyError, TypeError):  # missing, not JSON, or not our manifest
        return False
    return ours and all(entry.name in named for entry in visible_entries(path))


SIMULATION = folder_kind(
    "a folder nwb-v1former simulate wrote (its simulation.json names every file)", is_simulation
)
"""What `simulate --overwrite` may replace: an earlier simulation nobody added to, or an empty folder."""


def layout_config(layout: str, **options) -> SimulationConfig:
    """The simulation config for `layout`: its imaging rate unless given; on-tick imaging where required."""
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    spec = LAYOUTS[layout]
    options = {key: value for key, value in options.items() if value is not None}
    options.setdefault("imaging_rate", spec.imaging_rate)
    if spec.on_ticks:
        if options["imaging_rate"] != TICK_RATE_HZ:
            raise ConfigError(
                f"layout {layout!r} stores responses on the {TICK_RATE_HZ:g} Hz grid; drop --imaging-rate"
            )
        options.update(imaging_phase=0.0, timing_jitter=0.0)
    return SimulationConfig.from_dict(options)


def simulate_and_write(
    out: str | Path,
    *,
    layout: str = "allen",
    animals: int = 1,
    overwrite: bool = False,
    progress: bool = True,
    **options,
) -> list[SimulatedSession]:
    """Simulate `animals` animals (seed shared, animal index 0..K-1) and write them under `out`.

    `options` are SimulationConfig fields (neurons, minutes, seed, ...). The folder is written
    atomically: it appears complete, with `simulation.json`, or not at all; `overwrite` replaces only
    an earlier simulation (SIMULATION).
    """
    if animals < 1:
        raise ConfigError("animals must be at least 1")
    base = layout_config(layout, **options)
    out = Path(out)
    with atomic_output(out, overwrite=overwrite, kind=SIMULATION) as staging:
        staging.mkdir(parents=True)
        recordings = (
            simulate(dataclasses.replace(base, animal=animal))
            for animal in tqdm(range(animals), desc=f"simulate {layout}", unit="animal", disable=not progress)
        )
        sessions = [write_session(recording, layout, staging, out) for recording in recordings]
        write_manifest(staging, layout, sessions)
    return sessions


def write_session(recording: Recording, layout: str, staging: Path, out: Path) -> SimulatedSession:
    """Write one recording and its truth into `staging`, the folder that will become `out`."""
    data_name = LAYOUTS[layout].data_name(recording)
    LAYOUTS[layout].writer(recording, staging / data_name)
    truth_name = f"{recording.session_id}.truth.npz"
    write_truth(recording, staging / truth_name)
    return SimulatedSession(recording.session_id, out / data_name, out / truth_name, recording.config)


def write_manifest(staging: Path, layout: str, sessions: list[SimulatedSession], **facts: Any) -> None:
    """`simulation.json`: the generator, the layout, every session's files and config (and `facts`)."""
    manifest = {
        "generator": f"nwb-v1former {__version__}",
        "layout": layout,
        **facts,
        "sessions": [
            {
                "session_id": s.session_id,
                "data": s.data.name,
                "truth": s.truth.name,
                "config": s.config.to_dict(),
            }
            for s in sessions
        ],
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
