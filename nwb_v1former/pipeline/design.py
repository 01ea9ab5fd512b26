"""Experiments that design stimuli, as jobs: most exciting images/videos and contextual modulation.

Written like every in-silico result (pipeline.insilico): OUT/<analysis>.json, .npz and .png, all or
none. The MEI's analysis name says what it holds, e.g. `mei_image_excite_full` or
`mei_video_inhibit_centre_population`, so variants sit side by side. Regions `centre` and `surround`
and the contextual curves use each ROI's RF from `insilico rf` in the same folder (receptive_fields.npz).
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np

from nwb_v1former.analysis import design_figures as figures
from nwb_v1former.analysis.contextual import ContextConfig, contextual_modulation
from nwb_v1former.analysis.controls import ControlConfig, GratingParameters, choose_controls
from nwb_v1former.analysis.mei import MEIConfig, most_exciting
from nwb_v1former.analysis.stimulus_space import MovieSpectrum, Screen
from nwb_v1former.data.dataset import window_starts
from nwb_v1former.data.stats import Normalizer
from nwb_v1former.data.store import SessionStore
from nwb_v1former.errors import ConfigError
from nwb_v1former.nwb.write import DEFAULT_NAME
from nwb_v1former.pipeline.insilico import (
    ExperimentOptions,
    InsilicoOutput,
    behaviour_states,
    choose_session,
    finish_experiment,
    open_experiment,
)

RF_FILE = "receptive_fields.npz"
CONTEXT_FILE = "contextual"


def mei_name(config: MEIConfig, population: bool) -> str:
    """The analysis name of one MEI variant, e.g. mei_image_excite_full."""
    name = f"mei_{config.kind}_{config.direction}_{config.region}"
    return f"{name}_population" if population else name


def readout_columns(roi_ids: np.ndarray, wanted: list[int] | None, session: str) -> np.ndarray:
    """Columns of `wanted` ROI ids in the readout (all when None); unknown ids are refused."""
    column_of = {int(roi): column for column, roi in enumerate(roi_ids)}
    if wanted is None:
        return np.arange(len(roi_ids))
    missing = [roi for roi in wanted if int(roi) not in column_of]
    if missing:
        raise ConfigError(f"ROI ids {missing[:5]} are not in the readout of session {session!r}")
    return np.array([column_of[int(roi)] for roi in wanted], np.int64)


def mapped_rois(out: Path) -> list[int]:
    """The ROIs with a receptive field in OUT/receptive_fields.npz (none when it is missing)."""
    path = out / RF_FILE
    if not path.is_file():
        return []
    with np.load(path, allow_pickle=False) as archive:
        return [int(roi) for roi in archive["roi_ids"][np.isfinite(archive["radius_px"])]]


def load_rf(out: Path, roi_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(center (M, 2), radius (M,)) of `roi_ids` from OUT/receptive_fields.npz; refused when missing."""
    path = out / RF_FILE
    fix = f"map them first: nwb-v1former insilico rf CHECKPOINT --out {out} --roi ..."
    if not path.is_file():
        raise ConfigError(f"{path} not found: this needs each ROI's receptive field; {fix}")
    if len(roi_ids) == 0:
        raise ConfigError(f"{path} holds no ROI with a receptive field; {fix}")
    with np.load(path, allow_pickle=False) as archive:
        row_of = {int(roi): row for row, roi in enumerate(archive["roi_ids"])}
        missing = [int(roi) for roi in roi_ids if int(roi) not in row_of]
        if missing:
            raise ConfigError(f"{path} lacks ROIs {missing[:5]}; {fix}")
        rows = [row_of[int(roi)] for roi in roi_ids]
        center, radius = archive["center"][rows], archive["radius_px"][rows]
    unmapped = [int(roi) for roi, r in zip(roi_ids, radius, strict=True) if not np.isfinite(r)]
    if unmapped:
        raise ConfigError(f"{path}: ROIs {unmapped[:5]} have no receptive field (a flat map); leave them out")
    return center, radius


def load_gratings(out: Path, roi_ids: np.ndarray, checkpoint_sha256: str) -> GratingParameters:
    """Each ROI's best grating from OUT/contextual.{json,npz} (`insilico surround`, same checkpoint)."""
    fix = f"measure them first: nwb-v1former insilico surround CHECKPOINT --out {out} --roi ..."
    details, arrays = out / f"{CONTEXT_FILE}.json", out / f"{CONTEXT_FILE}.npz"
    if not (details.is_file() and arrays.is_file()):
        raise ConfigError(f"{arrays} not found: the grating controls need each ROI's best grating; {fix}")
    try:
        facts = json.loads(details.read_text())
        made_by = facts["provenance"]["checkpoint_sha256"]
        grid = {name: tuple(facts["config"][name]) for name in ("periods_px", "diameters_px")}
        context = ContextConfig(**{**facts["config"], **grid})
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{details} is damaged ({error}); {fix} --overwrite") from None
    if made_by != checkpoint_sha256:
        raise ConfigError(
            f"{details} was measured with another checkpoint (sha256 {made_by[:12]}); {fix} --overwrite"
        )
    with np.load(arrays, allow_pickle=False) as archive:
        row_of = {int(roi): row for row, roi in enumerate(archive["roi_ids"])}
        missing = [int(roi) for roi in roi_ids if int(roi) not in row_of]
        if missing:
            raise ConfigError(f"{arrays} lacks ROIs {missing[:5]}; {fix}")
        rows = [row_of[int(roi)] for roi in roi_ids]
        return GratingParameters(
            center=archive["center"][rows],
            orientation_deg=archive["orientation_deg"][rows],
            period_px=archive["period_px"][rows],
            diameter_px=archive["preferred_diameter_px"][rows],
            context=context,
        )


def training_frames(store: SessionStore, count: int = 512) -> np.ndarray:
    """Up to `count` frames spread evenly over the session's training trials (all its ticks when it has
    none); (K, 36, 64) uint8."""
    ticks = window_starts(store.trials, ("train",), window=1, stride=1)
    ticks = ticks if len(ticks) else np.arange(store.n_ticks)
    picked = ticks[np.linspace(0, len(ticks) - 1, min(count, len(ticks))).round().astype(np.int64)]
    return np.asarray(store.video[picked])


def run_mei(
    checkpoint: str | Path,
    data: str | Path,
    out: str | Path | None = None,
    *,
    roi_ids: list[int] | None = None,
    population: bool = False,
    config: MEIConfig | None = None,
    session: str | None = None,
    nwb: str | Path | None = None,
    name: str = DEFAULT_NAME,
    device: str | None = None,
    precision: str = "auto",
    overwrite: bool = False,
    progress: bool = False,
) -> InsilicoOutput:
    """Most exciting (or inhibiting) stimuli of `roi_ids` (default: all) into OUT/mei_*.{json,npz,png}
    (and the table into the predictions file `nwb`).

    `data` is the session the model was fitted to: its video statistics map the stimuli to screen
    pixels, its movies' spectrum is the one stimuli are measured against (and held near, with
    config.spectrum_weight), its median pupil size is held (not running).
    """
    config = config or MEIConfig()
    analysis = mei_name(config, population)
    options = ExperimentOptions(session, nwb, name, device, overwrite, progress, precision)
    with open_experiment(analysis, checkpoint, out, data, options) as run:
        key = choose_session(run.model, session, run.store)
        readout = np.asarray(run.model.session(key).roi_ids)
        columns = readout_columns(readout, roi_ids, key)
        rf = None if config.region == "full" else load_rf(run.out, readout[columns])
        screen = Screen.from_normalizer(Normalizer.from_statistics(run.store.statistics))
        result = most_exciting(
            run.model,
            key,
            columns,
            run.provenance(key, run.store),
            screen,
            config=config,
            state=behaviour_states(run.store)[0],
            population=population,
            rf=rf,
            movie_spectrum=MovieSpectrum.of_frames(training_frames(run.store), screen),
            progress=progress,
        )
    arrays = {
        "roi_ids": result.roi_ids,
        "stimulus_of": result.stimulus_of,
        "pixels": result.pixels,
        "stimuli": result.stimuli,
        "starts": result.starts,
        "objective": result.objective,
        "response": result.response,
        "grey": result.grey,
        "agreement": result.agreement,
        "screen_mean_std": np.array([screen.mean, screen.std]),
        "behavior_state": np.array([result.state.pupil_size, result.state.running_speed]),
    }
    return finish_experiment(analysis, result, arrays, partial(figures.mei_figure, result), run.out, options)


def run_contextual(
    checkpoint: str | Path,
    out: str | Path | None = None,
    *,
    roi_ids: list[int] | None = None,
    data: str | Path | None = None,
    config: ContextConfig | None = None,
    session: str | None = None,
    nwb: str | Path | None = None,
    name: str = DEFAULT_NAME,
    device: str | None = None,
    precision: str = "auto",
    overwrite: bool = False,
    progress: bool = False,
) -> InsilicoOutput:
    """Size tuning and iso / cross surround modulation of `roi_ids` (default: every ROI with an RF in
    OUT/receptive_fields.npz) into OUT/contextual.*."""
    options = ExperimentOptions(session, nwb, name, device, overwrite, progress, precision)
    with open_experiment("contextual", checkpoint, out, data, options) as run:
        key = choose_session(run.model, session, run.store)
        readout = np.asarray(run.model.session(key).roi_ids)
        columns = readout_columns(readout, roi_ids or mapped_rois(run.out), key)
        center, radius = load_rf(run.out, readout[columns])
        result = contextual_modulation(
            run.model,
            key,
            columns,
            center,
            radius,
            run.provenance(key, run.store),
            config=config,
            state=behaviour_states(run.store)[0],
        )
    arrays = {
        "roi_ids": result.roi_ids,
        "center": result.center,
        "diameters_px": np.asarray(result.config.diameters_px),
        "size_tuning": result.size_tuning,
        **{name: values for name, (_, values) in result.table().columns.items() if name != "roi_id"},
    }
    return finish_experiment(
        "contextual", result, arrays, partial(figures.contextual_figure, result), run.out, options
    )


def contextual_rois(out: Path) -> list[int]:
    """The ROIs of OUT/contextual.npz (none when it is missing)."""
    path = out / f"{CONTEXT_FILE}.npz"
    if not path.is_file():
        return []
    with np.load(path, allow_pickle=False) as archive:
        return [int(roi) for roi in archive["roi_ids"]]


def run_controls(
    checkpoint: str | Path,
    data: str | Path,
    out: str | Path | None = None,
    *,
    roi_ids: list[int] | None = None,
    config: ControlConfig | None = None,
    session: str | None = None,
    nwb: str | Path | None = None,
    name: str = DEFAULT_NAME,
    device: str | None = None,
    precision: str = "auto",
    overwrite: bool = False,
    progress: bool = False,
) -> InsilicoOutput:
    """Each ROI's best natural clip of `data` (the session the model was fitted to) and best grating
    (OUT/contextual.npz) into OUT/controls.*, for `insilico export` to show beside the designed stimuli
    (default: every ROI `insilico surround` measured)."""
    options = ExperimentOptions(session, nwb, name, device, overwrite, progress, precision)
    with open_experiment("controls", checkpoint, out, data, options) as run:
        key = choose_session(run.model, session, run.store)
        readout = np.asarray(run.model.session(key).roi_ids)
        columns = readout_columns(readout, roi_ids or contextual_rois(run.out), key)
        provenance = run.provenance(key, run.store)
        gratings = load_gratings(run.out, readout[columns], provenance.checkpoint_sha256)
        screen = Screen.from_normalizer(Normalizer.from_statistics(run.store.statistics))
        result = choose_controls(
            run.model,
            key,
            columns,
            run.store,
            gratings,
            provenance,
            screen,
            behaviour_states(run.store)[0],
            config=config,
            progress=progress,
        )
    arrays = {
        "roi_ids": result.roi_ids,
        "natural": result.natural,
        "grating": result.grating,
        "natural_pixels": result.pixels("natural"),
        "grating_pixels": result.pixels("grating"),
        "screen_mean_std": np.array([screen.mean, screen.std]),
        "behavior_state": np.array([result.state.pupil_size, result.state.running_speed]),
        **{name: values for name, (_, values) in result.table().columns.items() if name != "roi_id"},
    }
    return finish_experiment(
        "controls", result, arrays, partial(figures.controls_figure, result), run.out, options
    )
