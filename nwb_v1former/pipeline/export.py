"""Export designed stimuli for presentation: MEI results (and their controls) in, one NWB stimulus set,
an .npz and a video out.

Each stimulus of each chosen `mei_*` result becomes one stimulus of the set, as it was designed: an
image held for the design's `frames` ticks, a video frame by frame (the grey burn-in is the schedule's
gap). Names say where each came from: `<analysis>_roi<id>`, or `<analysis>` for a population stimulus.
With `controls` (OUT/controls.* from `insilico controls`, when present), each targeted ROI's best
natural clip and best grating join the set as `natural_roi<id>` and `grating_roi<id>`, so `insilico
loop` can judge each designed stimulus against them. Every result must come from one checkpoint,
session and behaviour state; the set's provenance records them, the screen's mean and std the stimuli
were designed on, the ROIs targeted and the results used.
"""

from __future__ import annotations

import contextlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nwb_v1former.analysis.controls import CONTROL_ROLES
from nwb_v1former.atomic import OutputKind, atomic_output, check_writable
from nwb_v1former.errors import ConfigError
from nwb_v1former.nwb.screen_video import write_screen_video
from nwb_v1former.nwb.stimulus_set import (
    STIMULUS_SET,
    Schedule,
    ScheduleConfig,
    StimulusSet,
    is_stimulus_set,
    make_schedule,
    write_stimulus_set,
)

CONTROLS = "controls"

PLAIN = OutputKind(
    "the .npz beside a stimulus set written by `insilico export`",
    lambda path: path.is_file() and zipfile.is_zipfile(path) and is_stimulus_set(path.with_suffix(".nwb")),
)
VIDEO = OutputKind(
    "the .mp4 beside a stimulus set written by `insilico export`",
    lambda path: path.is_file() and _is_mp4(path) and is_stimulus_set(path.with_suffix(".nwb")),
)


def _is_mp4(path: Path) -> bool:
    """An ISO media file: its first box is `ftyp`."""
    with open(path, "rb") as handle:
        return handle.read(8)[4:8] == b"ftyp"


def mei_results(folder: Path, analyses: list[str] | None) -> list[str]:
    """The MEI results to export: `analyses`, else every mei_*.json in `folder`; refused when none."""
    found = sorted(path.stem for path in folder.glob("mei_*.json"))
    chosen = analyses or found
    missing = [name for name in chosen if name not in found]
    if missing or not chosen:
        what = f"no {', '.join(missing)} result" if missing else "no mei result"
        raise ConfigError(f"{folder}: {what}; design stimuli first with `nwb-v1former insilico mei`")
    return chosen


@dataclass
class _Gathered:
    """Stimuli gathered from results, with the facts every result must share."""

    names: list[str] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    targets: list[int] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    screens: set[tuple[float, ...]] = field(default_factory=set)
    states: set[tuple[float, ...]] = field(default_factory=set)

    def add(self, name: str, frames: np.ndarray, target: int, role: str) -> None:
        self.names.append(name)
        self.frames.append(frames)
        self.targets.append(target)
        self.roles.append(role)

    def read(self, folder: Path, analysis: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The config and arrays of `analysis`, noting its provenance, screen and behaviour state."""
        details = json.loads((folder / f"{analysis}.json").read_text())
        with np.load(folder / f"{analysis}.npz", allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        self.sources.append(details["provenance"])
        self.screens.add(tuple(arrays["screen_mean_std"].tolist()))
        self.states.add(tuple(arrays["behavior_state"].tolist()))
        return details["config"], arrays


def collect(folder: str | Path, analyses: list[str] | None = None, controls: bool = True) -> StimulusSet:
    """The stimuli of the MEI results in `folder`, and of their controls (see the module docstring)."""
    folder = Path(folder)
    chosen = mei_results(folder, analyses)
    gathered = _Gathered()
    for analysis in chosen:
        design, arrays = gathered.read(folder, analysis)
        pixels, roi_ids, stimulus_of = arrays["pixels"], arrays["roi_ids"], arrays["stimulus_of"]
        held = 1 if design["kind"] == "video" else design["frames"]
        population = len(pixels) == 1 and len(roi_ids) > 1
        for index, stimulus in enumerate(pixels):
            target = -1 if population else int(roi_ids[stimulus_of == index][0])
            name = analysis if population else f"{analysis}_roi{target}"
            gathered.add(name, np.repeat(stimulus, held, axis=0), target, analysis)
    targeted = sorted({target for target in gathered.targets if target >= 0})
    used = list(chosen)
    if controls and (folder / f"{CONTROLS}.json").is_file():
        _, arrays = gathered.read(folder, CONTROLS)
        used.append(CONTROLS)
        for row, roi in enumerate(arrays["roi_ids"].tolist()):
            if roi in targeted:
                for role in CONTROL_ROLES:
                    gathered.add(f"{role}_roi{roi}", arrays[f"{role}_pixels"][row], roi, role)
    checkpoints = {(source["checkpoint_sha256"], source["session"]) for source in gathered.sources}
    if len(checkpoints) > 1 or len(gathered.screens) > 1 or len(gathered.states) > 1:
        raise ConfigError(
            f"{folder}: the results come from different checkpoints, sessions or behaviour; export them "
            "apart (or redo the controls with the MEIs' checkpoint)"
        )
    ((sha, session),) = checkpoints
    provenance: dict[str, Any] = {
        "checkpoint_sha256": sha,
        "session": session,
        "targeted_rois": targeted,
        "results": used,
        "screen_mean_std": list(gathered.screens.pop()),
        "behavior_state": list(gathered.states.pop()),
    }
    return StimulusSet(
        gathered.names, gathered.frames, np.asarray(gathered.targets, np.int64), gathered.roles, provenance
    )


def export_stimuli(
    folder: str | Path,
    out: str | Path,
    *,
    analyses: list[str] | None = None,
    controls: bool = True,
    video: bool = True,
    config: ScheduleConfig | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> tuple[StimulusSet, Schedule]:
    """Write OUT (an .nwb stimulus set), OUT with .npz (the stimuli on the model's grid, plain numpy)
    and, with `video`, OUT with .mp4 (the screen as the schedule shows it) from the results in `folder`;
    all or none."""
    out = Path(out)
    if out.suffix != ".nwb":
        raise ConfigError(f"{out}: the stimulus set is an NWB file; name it <something>.nwb")
    plain, movie = out.with_suffix(".npz"), out.with_suffix(".mp4")
    check_writable(out, overwrite, STIMULUS_SET)
    check_writable(plain, overwrite, PLAIN)
    if video:
        check_writable(movie, overwrite, VIDEO)
    stimuli = collect(folder, analyses, controls)
    config = config or ScheduleConfig()
    with contextlib.ExitStack() as staged:
        staged_plain = staged.enter_context(atomic_output(plain, overwrite=overwrite, kind=PLAIN))
        with open(staged_plain, "wb") as handle:
            np.savez_compressed(
                handle,
                names=np.asarray(stimuli.names),
                target_roi=stimuli.target_roi,
                roles=np.asarray(stimuli.roles),
                **{f"frames_{index}": frames for index, frames in enumerate(stimuli.frames)},
            )
        schedule = make_schedule(stimuli, config)
        if video:
            staged_movie = staged.enter_context(atomic_output(movie, overwrite=overwrite, kind=VIDEO))
            grey = round(stimuli.provenance["screen_mean_std"][0])
            write_screen_video(stimuli, schedule, config, grey, staged_movie, progress)
        write_stimulus_set(stimuli, config, out, overwrite=overwrite, schedule=schedule)
    return stimuli, schedule
