"""What the run report shows, as arrays: the run's files, repeat-averaged traces, readout positions, truth.

No plotting here (see report_figures); everything is read from the run folder, its sessions and, for
simulated sessions, the ground-truth file the simulator wrote beside the NWB file.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nwb_v1former import metrics
from nwb_v1former.data.store import SessionStore
from nwb_v1former.errors import ConfigError
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.inference.evaluation import predict_trials, tier_trials
from nwb_v1former.model.model import V1Former
from nwb_v1former.run_folder import CONFIG, DATA, EVALUATION, EVALUATION_FIELDS, RunFolder
from nwb_v1former.simulate.truth import load_truth
from nwb_v1former.train.run_config import RunConfig


@dataclass(frozen=True)
class RunRecord:
    """A run folder's small files: config.yaml, metrics.jsonl (one dict per epoch), evaluation.json."""

    folder: Path
    config: RunConfig
    metrics: list[dict[str, Any]]
    evaluation: dict[str, Any] | None

    @property
    def best_epoch(self) -> int | None:
        """The epoch of best.ckpt: from the evaluation, else the last epoch flagged best."""
        if self.evaluation is not None:
            return int(self.evaluation["best_epoch"])
        best = [row["epoch"] for row in self.metrics if row.get("best")]
        return best[-1] if best else None

    @property
    def fit_problems(self) -> list[str]:
        """Why the fit falls short, from evaluation.json's `fit_check` ({"learned": bool,
        "reasons": [str]}); [] when it learned without remarks or was written before the check."""
        check = (self.evaluation or {}).get("fit_check")
        if not check:
            return []
        reasons = [str(reason) for reason in check.get("reasons", [])]
        if not reasons and not check.get("learned", True):
            reasons = ["the evaluation found that the model did not learn (no reason given)"]
        return reasons

    @property
    def learned(self) -> bool:
        """False only when evaluation.json's fit_check says the model did not learn (a run that learned but
        did not converge has fit problems, yet its results describe a model that learned)."""
        return bool((self.evaluation or {}).get("fit_check", {}).get("learned", True))

    def store(self, key: str) -> SessionStore | None:
        """The session's store where training left it (or under RUN/data/); None when it is gone."""
        candidates = [Path(f) for f in self.config.stores if Path(f).name == key]
        for folder in [*candidates, self.folder / DATA / key]:
            if (folder / "meta.json").is_file():
                return SessionStore(folder)
        return None


def load_run(run: str | Path) -> RunRecord:
    """Read a run folder written by pretrain / finetune; ConfigError when it is not one."""
    folder = RunFolder(run)
    if not (folder / CONFIG).is_file():
        raise ConfigError(
            f"not a run folder (no {CONFIG}); give the --out folder of pretrain or finetune",
            where=folder.path,
        )
    evaluation_path = folder / EVALUATION
    evaluation = folder.read_json(EVALUATION, EVALUATION_FIELDS) if evaluation_path.is_file() else None
    return RunRecord(folder.path, RunConfig.from_dict(folder.read_config()), folder.metrics(), evaluation)


@dataclass(frozen=True)
class GroundTruth:
    """The simulator's truth for a session's ROIs, in the store's column order.

    rf_center (N, 2) float64 -- true receptive-field centre (row, column) in pixels of the 36 x 64 frame;
    noise_ceiling (N,) float64 -- exact expected correlation of the noise-free response with the recording.
    """

    path: Path
    rf_center: np.ndarray
    noise_ceiling: np.ndarray


def ground_truth(store: SessionStore) -> GroundTruth | None:
    """The truth file beside a simulated session's NWB file (`x.nwb` -> `x.truth.npz`), else None; also
    None for a file of that name that is not this simulator's truth of this session (another tool's, or
    damaged), so that it can never stop a report."""
    source = store.meta.get("source", {}).get("path")
    if not source:
        return None
    path = Path(source).with_suffix(".truth.npz")
    if not path.is_file():
        return None
    try:
        truth = load_truth(path, names=("roi_ids", "rf_center", "noise_ceiling"))
        rows = {int(roi): row for row, roi in enumerate(truth["roi_ids"])}
        if not all(int(roi) in rows for roi in store.roi_ids):
            return None
        order = np.array([rows[int(roi)] for roi in store.roi_ids], dtype=int)
        centers, ceilings = truth["rf_center"][order], truth["noise_ceiling"][order]
    except (OSError, ValueError, KeyError, IndexError, TypeError, zipfile.BadZipFile):
        return None
    if centers.shape != (len(order), 2) or ceilings.shape != (len(order),):
        return None
    return GroundTruth(path, centers, ceilings)


def readout_pixels(model: V1Former, key: str) -> np.ndarray:
    """Each neuron's readout position (mu) as (row, column) in pixels of the 36 x 64 frame; (N, 2).

    mu in [-1, 1] indexes the core's output grid corner to corner (grid_sample, align_corners=True); a
    fractional cell maps linearly between the pixel centres of its neighbours (`core.cell_centers()`).
    """
    mu = model.readouts[key].mu.detach().cpu().numpy().astype(np.float64)  # (N, 2): x (width), y (height)
    pixels = []
    for axis, centers in zip((1, 0), model.core.cell_centers(), strict=True):
        cell = (mu[:, axis] + 1.0) / 2.0 * (len(centers) - 1)
        pixels.append(np.interp(cell, np.arange(len(centers)), centers))
    return np.stack(pixels, axis=1)


def retinotopy_correlation(readout: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Pearson r of readout and true RF (row, column) over neurons; (N, 2), (N, 2) -> (r_row, r_column)."""
    row, column = metrics.correlation_per_neuron(readout, truth)
    return float(row), float(column)


@dataclass(frozen=True)
class ClipTraces:
    """Recorded and predicted responses of some neurons to every showing of one held-out clip.

    recorded, predicted (R, T, M) float32 in the store's units -- R showings of T ticks (cut to the
    shortest), M neurons (the store's `columns`); `seconds` (T,) from the clip's start.
    """

    stimulus_id: str
    columns: np.ndarray
    seconds: np.ndarray
    recorded: np.ndarray
    predicted: np.ndarray

    @property
    def repeats(self) -> int:
        return self.recorded.shape[0]

    def activity(self, skip: int = metrics.SKIP_FRAMES) -> np.ndarray:
        """Mean recorded response over the showings' scored ticks (after `skip`), per neuron; (M,)."""
        return self.recorded[:, skip:].mean(axis=(0, 1))

    def scores(self, neuron: int, skip: int = metrics.SKIP_FRAMES) -> tuple[float, float]:
        """Single-trial correlation and FEVE of neuron `neuron` (index into `columns`) on this clip alone;
        FEVE is NaN for a clip shown once or without explainable variance."""
        recorded, predicted = self.recorded[..., [neuron]], self.predicted[..., [neuron]]
        correlation = metrics.single_trial_correlation(list(predicted), list(recorded), skip=skip)[0]
        if self.repeats < 2:
            return float(correlation), float("nan")
        feve = metrics.explainable_variance_explained(
            list(predicted), list(recorded), [self.stimulus_id] * self.repeats, skip=skip
        )[0]
        return float(correlation), float(feve)


def held_out_clips(
    model: V1Former,
    store: SessionStore,
    tier: str,
    columns: np.ndarray,
    key: str | None = None,
    *,
    device: torch.device | str = "cpu",
) -> list[ClipTraces]:
    """Every clip of the tier's scorable trials, each with all its showings predicted (on `device`, where
    the model is), for `columns` (M,) of the store's neurons; in order of first showing (empty without a
    scorable trial)."""
    indices = tier_trials(store, tier)
    predicted = predict_trials(model, store, indices, key, device=device)
    trials = store.trials
    clips = []
    for stimulus in dict.fromkeys(trials.stimulus_id[indices].tolist()):
        showings = [i for i, index in enumerate(indices) if trials.stimulus_id[index] == stimulus]
        length = min(len(predicted[i]) for i in showings)
        first = trials.first_tick[indices[showings]]
        recorded = np.stack([np.asarray(store.responses[f : f + length])[:, columns] for f in first])
        prediction = np.stack([predicted[i][:length, columns] for i in showings])
        seconds = np.arange(length) / TICK_RATE_HZ
        clips.append(ClipTraces(str(stimulus), np.asarray(columns), seconds, recorded, prediction))
    return clips


def most_active_clips(clips: list[ClipTraces], neuron: int, count: int = 2) -> list[int]:
    """Indices into `clips` of the `count` clips with the highest mean recorded response of neuron
    `neuron` (index into their `columns`), most active first."""
    activity = np.array([clip.activity()[neuron] for clip in clips])
    return np.argsort(-activity, kind="stable")[:count].tolist()


@dataclass(frozen=True)
class TraceRow:
    """One neuron of the traces figure: its label, ROI id, column in the clips' `columns`, its scores over
    every held-out trial, and the clips to draw (indices into the clips list)."""

    label: str
    roi_id: int
    neuron: int
    correlation: float
    feve: float
    clips: list[int]


def trace_rows(
    clips: list[ClipTraces],
    chosen: dict[str, int],
    roi_ids: np.ndarray,
    correlation: np.ndarray,
    feve: np.ndarray | None,
    count: int = 2,
) -> list[TraceRow]:
    """A row per neuron of `chosen` (label -> store column, in the order of the clips' `columns`), each
    with its `count` most active clips; `correlation`, `feve` (N,) over every held-out trial."""
    return [
        TraceRow(
            label,
            int(roi_ids[column]),
            neuron,
            float(correlation[column]),
            float("nan") if feve is None else float(feve[column]),
            most_active_clips(clips, neuron, count),
        )
        for neuron, (label, column) in enumerate(chosen.items())
    ]


def response_unit(store: SessionStore) -> str:
    """The responses' unit for axis labels: dF/F for a DfOverF series, else the series' name, as stored."""
    paths = [str(path) for path in store.meta.get("responses", [])]
    if paths and all("DfOverF" in path for path in paths):
        return "\N{GREEK CAPITAL LETTER DELTA}F/F"
    names = ", ".join(dict.fromkeys(path.rsplit("/", 1)[-1] for path in paths)) or "response"
    return f"{names} (units as stored)"


def pick_neurons(correlation: np.ndarray) -> dict[str, int]:
    """Columns of the best, median and worst scored neuron by single-trial correlation (NaN left out)."""
    scored = np.flatnonzero(np.isfinite(correlation))
    if not len(scored):
        return {}
    ranked = scored[np.argsort(correlation[scored], kind="stable")]
    return {"best": int(ranked[-1]), "median": int(ranked[len(ranked) // 2]), "worst": int(ranked[0])}


def per_neuron(session: dict[str, Any], name: str) -> np.ndarray | None:
    """One metric of evaluation.json's session entry as (N,) float64, None values as NaN."""
    values = session.get("neurons", {}).get(name)
    if values is None:
        return None
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
