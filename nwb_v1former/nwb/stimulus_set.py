"""A stimulus set for presentation: designed stimuli as NWB templates, with a presentation schedule.

The file holds every frame of every stimulus, upsampled to the screen (`screen` pixels, a whole
multiple of the model's 36 x 64, nearest-neighbour so the model's frames come back exactly) as an
`Images` template in stimulus_template (one GrayscaleImage per frame, with order_of_images), an
`IndexSeries` in stimulus saying which template frame is shown at each screen refresh (`frame_rate`
Hz, a whole multiple of the model's 30 Hz), and a `presentations` TimeIntervals table: one row per
presentation with its stimulus id and name, targeted ROI, repeat and first template frame. The
screen is grey between presentations. Provenance (checkpoint sha256, session, targeted ROIs, the
results the stimuli came from) is JSON in the file's `notes`, and is read back by `read_stimulus_set`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from pynwb import NWBHDF5IO, NWBFile
from pynwb.base import ImageReferences, Images
from pynwb.epoch import TimeIntervals
from pynwb.image import GrayscaleImage, IndexSeries

from nwb_v1former import __version__
from nwb_v1former.atomic import OutputKind, atomic_output
from nwb_v1former.errors import ConfigError, SessionError
from nwb_v1former.grid import FRAME_HEIGHT, FRAME_WIDTH, TICK_RATE_HZ

TEMPLATE, PRESENTATIONS, SHOWN = "designed_stimuli", "presentations", "designed_stimuli_shown"
IDENTIFIER_PREFIX = "nwb-v1former-stimulus-set-"


def is_stimulus_set(path: Path) -> bool:
    """Whether `path` is a stimulus set this tool wrote (an NWB file with its identifier)."""
    try:
        with h5py.File(path, "r") as handle:
            identifier = handle["identifier"][()]
    except (OSError, KeyError):
        return False
    identifier = identifier.decode() if isinstance(identifier, bytes) else str(identifier)
    return path.is_file() and not path.is_symlink() and identifier.startswith(IDENTIFIER_PREFIX)


STIMULUS_SET = OutputKind("a stimulus set written by `insilico export`", is_stimulus_set)


@dataclass(frozen=True, eq=False)  # array fields: compare by identity
class StimulusSet:
    """S stimuli on the model's grid: frames[s] (F_s, 36, 64) uint8 at 30 Hz; names (S,); target_roi
    (S,) int64 (-1: a population stimulus); roles (S,): the analysis that designed each (e.g.
    mei_image_excite_full) or the control it is (natural, grating); provenance: JSON-ready facts about
    their origin."""

    names: list[str]
    frames: list[np.ndarray]
    target_roi: np.ndarray
    roles: list[str]
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        counts = {len(self.names), len(self.frames), len(self.target_roi), len(self.roles)}
        if len(counts) > 1 or not self.names:
            raise ConfigError("a stimulus set needs at least one stimulus, each with a name, target and role")
        if len(set(self.names)) != len(self.names):
            raise ConfigError("stimulus names must be unique")
        for name, frames in zip(self.names, self.frames, strict=True):
            if (
                frames.dtype != np.uint8
                or frames.ndim != 3
                or frames.shape[1:] != (FRAME_HEIGHT, FRAME_WIDTH)
            ):
                raise ConfigError(f"stimulus {name}: frames must be (F, 36, 64) uint8")


@dataclass(frozen=True)
class ScheduleConfig:
    """How the set is shown: `repeats` blocks, each every stimulus once in a random order (`seed`),
    `gap_s` of grey before each presentation; at `frame_rate` Hz on a `screen` (height, width) px."""

    repeats: int = 10
    gap_s: float = 1.0
    frame_rate: float = 60.0
    screen: tuple[int, int] = (144, 256)
    seed: int = 0

    def __post_init__(self) -> None:
        height, width = self.screen
        checks = (
            (self.repeats >= 1, "repeats must be at least 1"),
            (self.gap_s >= 0, "gap_s must be non-negative"),
            (
                self.frame_rate > 0 and (self.frame_rate / TICK_RATE_HZ).is_integer(),
                "frame_rate must be a whole multiple of 30 Hz",
            ),
            (
                height % FRAME_HEIGHT == 0
                and width % FRAME_WIDTH == 0
                and height // FRAME_HEIGHT == width // FRAME_WIDTH,
                "screen must be a whole multiple of 36 x 64 (16:9), e.g. 144x256 or 1080x1920",
            ),
            (self.seed >= 0, "seed must be non-negative"),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"schedule: {message}")

    @property
    def refreshes_per_tick(self) -> int:
        return round(self.frame_rate / TICK_RATE_HZ)

    @property
    def scale(self) -> int:
        return self.screen[0] // FRAME_HEIGHT


@dataclass(frozen=True, eq=False)  # array fields: compare by identity
class Schedule:
    """P presentations: stimulus (P,) index into the set, repeat (P,), start_s / stop_s (P,) seconds
    from the start of the set's clock."""

    stimulus: np.ndarray
    repeat: np.ndarray
    start_s: np.ndarray
    stop_s: np.ndarray


def make_schedule(stimuli: StimulusSet, config: ScheduleConfig) -> Schedule:
    """Every stimulus once per repeat, in an order shuffled per repeat, after `gap_s` of grey each."""
    rng = np.random.default_rng(config.seed)
    order = np.concatenate([rng.permutation(len(stimuli.names)) for _ in range(config.repeats)])
    ticks = np.array([len(stimuli.frames[s]) for s in order])
    gap = round(config.gap_s * TICK_RATE_HZ)
    starts = np.cumsum(np.concatenate([[0], ticks[:-1] + gap])) + gap
    return Schedule(
        stimulus=order,
        repeat=np.repeat(np.arange(config.repeats), len(stimuli.names)),
        start_s=starts / TICK_RATE_HZ,
        stop_s=(starts + ticks) / TICK_RATE_HZ,
    )


def upsample(frames: np.ndarray, scale: int, refreshes: int) -> np.ndarray:
    """(F, 36, 64) -> (F * refreshes, 36 * scale, 64 * scale), each pixel and frame repeated."""
    return np.repeat(np.repeat(np.repeat(frames, refreshes, axis=0), scale, axis=1), scale, axis=2)


def write_stimulus_set(
    stimuli: StimulusSet,
    config: ScheduleConfig,
    path: str | Path,
    *,
    overwrite: bool = False,
    schedule: Schedule | None = None,
) -> Schedule:
    """Write the set and its schedule (default: make_schedule's) as an NWB file at `path` (atomically);
    returns the schedule."""
    schedule = schedule or make_schedule(stimuli, config)
    images, refresh_images = [], []  # template images; per stimulus, the image of each refresh
    for index, (name, frames) in enumerate(zip(stimuli.names, stimuli.frames, strict=True)):
        changes = np.flatnonzero(np.r_[True, np.any(frames[1:] != frames[:-1], axis=(1, 2))])
        run = np.cumsum(np.isin(np.arange(len(frames)), changes)) - 1  # distinct frame of each tick
        refresh_images.append(len(images) + np.repeat(run, config.refreshes_per_tick))
        for number, tick in enumerate(changes):
            images.append(
                GrayscaleImage(
                    name=f"{name}_frame{number:05d}",
                    data=upsample(frames[tick : tick + 1], config.scale, 1)[0],
                    description=f"Stimulus {index} ({name}), from 30 Hz tick {tick} on.",
                )
            )
    template = Images(
        name=TEMPLATE,
        images=images,
        description=(
            f"Designed stimuli, each distinct frame once, {config.screen[0]} x {config.screen[1]} px, 0-255; "
            f"{SHOWN} says which is shown at each {config.frame_rate:g} Hz refresh."
        ),
        order_of_images=ImageReferences(name="order_of_images", data=images),
    )
    nwbfile = NWBFile(
        session_description="A stimulus set designed by nwb-v1former, with its presentation schedule.",
        identifier=f"{IDENTIFIER_PREFIX}{stimuli.provenance.get('checkpoint_sha256', 'unknown')[:16]}",
        session_start_time=datetime(2000, 1, 1, tzinfo=UTC),
        notes=json.dumps(
            {"nwb_v1former": __version__, "schedule": _config_dict(config), **stimuli.provenance}
        ),
        source_script=f"nwb-v1former {__version__} insilico export",
        source_script_file_name="nwb_v1former/nwb/stimulus_set.py",
    )
    nwbfile.add_stimulus_template(template)
    refresh = 1.0 / config.frame_rate
    shown_index, shown_time = [], []
    for s, start in zip(schedule.stimulus, schedule.start_s, strict=True):
        shown_index.append(refresh_images[s])
        shown_time.append(start + np.arange(len(refresh_images[s])) * refresh)
    nwbfile.add_stimulus(
        IndexSeries(
            name=SHOWN,
            data=np.concatenate(shown_index).astype(np.uint32),
            indexed_images=template,
            unit="N/A",
            timestamps=np.concatenate(shown_time),
            description="Template frame shown at each screen refresh (grey between presentations).",
        )
    )
    table = TimeIntervals(name=PRESENTATIONS, description="One row per presentation of a stimulus.")
    for column, description in (
        ("stimulus_id", "Index of the stimulus in the set."),
        ("stimulus_name", "Name of the stimulus (its targeted ROI and kind)."),
        ("target_roi", "ROI id the stimulus was designed or chosen for (-1: a population stimulus)."),
        (
            "role",
            "What the stimulus is: the analysis that designed it (e.g. mei_image_excite_full), or a control "
            "chosen by the model for the target ROI (natural: its most exciting clip of its training "
            "movies; grating: its best drifting grating).",
        ),
        ("repeat", "Repeat block (each stimulus once per block, in a shuffled order)."),
        ("first_image", "Template image of the presentation's first refresh."),
        ("refreshes", "Screen refreshes the presentation lasts."),
    ):
        table.add_column(name=column, description=description)
    for s, repeat, start, stop in zip(
        schedule.stimulus, schedule.repeat, schedule.start_s, schedule.stop_s, strict=True
    ):
        table.add_row(
            start_time=float(start),
            stop_time=float(stop),
            stimulus_id=int(s),
            stimulus_name=stimuli.names[s],
            target_roi=int(stimuli.target_roi[s]),
            role=stimuli.roles[s],
            repeat=int(repeat),
            first_image=int(refresh_images[s][0]),
            refreshes=len(refresh_images[s]),
        )
    nwbfile.add_time_intervals(table)
    with (
        atomic_output(Path(path), overwrite=overwrite, kind=STIMULUS_SET) as temporary,
        NWBHDF5IO(temporary, "w") as io,
    ):
        io.write(nwbfile)
    return schedule


def _config_dict(config: ScheduleConfig) -> dict[str, Any]:
    return {**config.__dict__, "screen": list(config.screen)}


def read_stimulus_set(path: str | Path) -> tuple[StimulusSet, Schedule]:
    """The set on the model's grid (36 x 64 at 30 Hz, as designed) and its schedule, from an exported file."""
    path = Path(path)
    try:
        with NWBHDF5IO(path, "r") as io:
            nwbfile = io.read()
            facts = json.loads(nwbfile.notes)
            config = ScheduleConfig(**{**facts["schedule"], "screen": tuple(facts["schedule"]["screen"])})
            table = nwbfile.intervals[PRESENTATIONS].to_dataframe()
            template = nwbfile.stimulus_template[TEMPLATE]
            images = [np.asarray(image.data) for image in template.order_of_images.data]
            shown = nwbfile.stimulus[SHOWN]
            index, times = np.asarray(shown.data), np.asarray(shown.timestamps)
            first = table.drop_duplicates("stimulus_id").sort_values("stimulus_id")
            frames = []
            for start, count in zip(first["start_time"], first["refreshes"], strict=True):
                at = int(np.searchsorted(times, start - 1e-9))
                refreshes = index[at : at + count : config.refreshes_per_tick]
                frames.append(np.stack([images[i][:: config.scale, :: config.scale] for i in refreshes]))
    except (OSError, KeyError, ValueError, TypeError) as error:
        raise SessionError(f"{path} is not a stimulus set written by `insilico export` ({error})") from error
    provenance = {key: value for key, value in facts.items() if key not in ("schedule", "nwb_v1former")}
    names = first["stimulus_name"].astype(str).tolist()
    # Sets exported before roles were recorded hold only MEIs, named <analysis>_roi<id> or <analysis>.
    roles = (
        first["role"].astype(str).tolist()
        if "role" in first
        else [re.sub(r"_roi-?\d+$", "", name) for name in names]
    )
    stimuli = StimulusSet(
        names=names,
        frames=frames,
        target_roi=first["target_roi"].to_numpy(np.int64),
        roles=roles,
        provenance=provenance,
    )
    schedule = Schedule(
        stimulus=table["stimulus_id"].to_numpy(np.int64),
        repeat=table["repeat"].to_numpy(np.int64),
        start_s=table["start_time"].to_numpy(),
        stop_s=table["stop_time"].to_numpy(),
    )
    return stimuli, schedule
