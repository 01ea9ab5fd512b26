"""The loop report as a job: a checkpoint, the stimulus set it designed and the session recorded while
it was shown, in; OUT/closed_loop.{json,npz,png} out (written like every in-silico result)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from nwb_v1former.analysis import design_figures as figures
from nwb_v1former.analysis.closed_loop import LoopConfig, loop_statistics, predicted_responses, targeted_rois
from nwb_v1former.analysis.experiment import BehaviorState
from nwb_v1former.analysis.stimulus_space import Screen
from nwb_v1former.errors import ConfigError
from nwb_v1former.nwb.stimulus_set import read_stimulus_set
from nwb_v1former.nwb.write import DEFAULT_NAME
from nwb_v1former.pipeline.insilico import (
    ExperimentOptions,
    InsilicoOutput,
    finish_experiment,
    open_experiment,
)


def run_loop(
    checkpoint: str | Path,
    stimulus_set: str | Path,
    data: str | Path,
    out: str | Path | None = None,
    *,
    config: LoopConfig | None = None,
    session: str | None = None,
    device: str | None = None,
    precision: str = "auto",
    overwrite: bool = False,
    progress: bool = False,
) -> InsilicoOutput:
    """Find `stimulus_set`'s stimuli in the session `data` and judge each designed stimulus against its
    controls, recorded and predicted by the readout `session` (default: the one the set was
    designed with)."""
    config = config or LoopConfig()
    stimuli, _ = read_stimulus_set(stimulus_set)
    key = session or stimuli.provenance.get("session")
    options = ExperimentOptions(None, None, DEFAULT_NAME, device, overwrite, progress, precision)
    with open_experiment("closed_loop", checkpoint, out, data, options) as run:
        if key not in run.model.sessions:
            raise ConfigError(
                f"the checkpoint has no readout {key!r}; name the animal's readout with --session"
            )
        readout = np.asarray(run.model.session(key).roi_ids)
        store = run.store
        targeted = targeted_rois(stimuli, store.roi_ids)
        unknown = sorted(set(targeted) - set(readout.tolist()))
        if unknown:
            raise ConfigError(f"ROIs {unknown[:5]} of the session are not in readout {key!r}")
        column_of = {int(roi): column for column, roi in enumerate(readout)}
        mean, std = stimuli.provenance["screen_mean_std"]
        pupil, running = stimuli.provenance["behavior_state"]
        predicted = predicted_responses(
            run.model,
            key,
            np.array([column_of[roi] for roi in targeted], np.int64),
            stimuli,
            Screen(mean, std),
            config,
            BehaviorState("designed", pupil_size=pupil, running_speed=running),
        )
        result = loop_statistics(
            np.asarray(store.roi_ids),
            store.responses,
            np.asarray(store.video),
            stimuli,
            predicted,
            run.provenance(key, store),
            config,
        )
    pairs = result.table()
    arrays = {
        "roi_ids": result.roi_ids,
        "names": np.asarray(result.names),
        "roles": np.asarray(result.roles),
        "recorded": result.recorded,
        "predicted": result.predicted,
        "presentations": result.presentations,
        **{f"pair_{name}": values for name, (_, values) in pairs.columns.items()},
    }
    return finish_experiment(
        "closed_loop", result, arrays, partial(figures.loop_figure, result), run.out, options
    )
