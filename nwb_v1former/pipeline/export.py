"""Export designed stimuli for presentation: MEI results in, one NWB stimulus set (and an .npz) out.

Each stimulus of each chosen `mei_*` result becomes one stimulus of the set, as it was designed: an
image held for the design's `frames` ticks, a video frame by frame (the grey burn-in is the schedule's
gap). Names say where each came from: `<analysis>_roi<id>`, or `<analysis>` for a population stimulus.
Every result must come from one checkpoint, session and behaviour state; the set's provenance records
them, the screen's mean and std the stimuli were designed on, the ROIs targeted and the results used.
"""

from __future__ import annotations

import contextlib
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from nwb_v1former.atomic import OutputKind, atomic_output, check_writable
from nwb_v1former.errors import ConfigError
from nwb_v1former.nwb.stimulus_set import (
    STIMULUS_SET,
    Schedule,
    ScheduleConfig,
    StimulusSet,
    is_stimulus_set,
    write_stimulus_set,
)

PLAIN = OutputKind(
    "the .npz beside a stimulus set written by `insilico export`",
    lambda path: path.is_file() and zipfile.is_zipfile(path) and is_stimulus_set(path.with_suffix(".nwb")),
)


def mei_results(folder: Path, analyses: list[str] | None) -> list[str]:
    """The MEI results to export: `analyses`, else every mei_*.json in `folder`; refused when none."""
    found = sorted(path.stem for path in folder.glob("mei_*.json"))
    chosen = analyses or found
    missing = [name for name in chosen if name not in found]
    if missing or not chosen:
        what = f"no {', '.join(missing)} result" if missing else "no mei result"
        raise ConfigError(f"{folder}: {what}; design stimuli first with `nwb-v1former insilico mei`")
    return chosen


def collect(folder: str | Path, analyses: list[str] | None = None) -> StimulusSet:
    """The stimuli of the MEI results in `folder` (see the module docstring)."""
    folder = Path(folder)
    names, frames, targets, sources, screens, states = [], [], [], [], set(), set()
    for analysis in mei_results(folder, analyses):
        details = json.loads((folder / f"{analysis}.json").read_text())
        sources.append(details["provenance"])
        held = 1 if details["config"]["kind"] == "video" else details["config"]["frames"]
        with np.load(folder / f"{analysis}.npz", allow_pickle=False) as arrays:
            pixels, roi_ids, stimulus_of = arrays["pixels"], arrays["roi_ids"], arrays["stimulus_of"]
            screens.add(tuple(arrays["screen_mean_std"].tolist()))
            states.add(tuple(arrays["behavior_state"].tolist()))
        population = len(pixels) == 1 and len(roi_ids) > 1
        for index, stimulus in enumerate(pixels):
            target = -1 if population else int(roi_ids[stimulus_of == index][0])
            names.append(analysis if population else f"{analysis}_roi{target}")
            frames.append(np.repeat(stimulus, held, axis=0))
            targets.append(target)
    checkpoints = {(source["checkpoint_sha256"], source["session"]) for source in sources}
    if len(checkpoints) > 1 or len(screens) > 1 or len(states) > 1:
        raise ConfigError(
            f"{folder}: the results come from different checkpoints, sessions or behaviour; export them apart"
        )
    ((sha, session),) = checkpoints
    provenance: dict[str, Any] = {
        "checkpoint_sha256": sha,
        "session": session,
        "targeted_rois": sorted({target for target in targets if target >= 0}),
        "results": mei_results(folder, analyses),
        "screen_mean_std": list(screens.pop()),
        "behavior_state": list(states.pop()),
    }
    return StimulusSet(names, frames, np.asarray(targets, np.int64), provenance)


def export_stimuli(
    folder: str | Path,
    out: str | Path,
    *,
    analyses: list[str] | None = None,
    config: ScheduleConfig | None = None,
    overwrite: bool = False,
) -> tuple[StimulusSet, Schedule]:
    """Write OUT (an .nwb stimulus set) and OUT with .npz (the stimuli on the model's grid, plain
    numpy) from the MEI results in `folder`; both or neither."""
    out = Path(out)
    if out.suffix != ".nwb":
        raise ConfigError(f"{out}: the stimulus set is an NWB file; name it <something>.nwb")
    plain = out.with_suffix(".npz")
    check_writable(out, overwrite, STIMULUS_SET)
    check_writable(plain, overwrite, PLAIN)
    stimuli = collect(folder, analyses)
    config = config or ScheduleConfig()
    with contextlib.ExitStack() as staged:
        staged_plain = staged.enter_context(atomic_output(plain, overwrite=overwrite, kind=PLAIN))
        with open(staged_plain, "wb") as handle:
            np.savez_compressed(
                handle,
                names=np.asarray(stimuli.names),
                target_roi=stimuli.target_roi,
                **{f"frames_{index}": frames for index, frames in enumerate(stimuli.frames)},
            )
        schedule = write_stimulus_set(stimuli, config, out, overwrite=overwrite)
    return stimuli, schedule
