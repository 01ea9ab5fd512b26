"""The loop's verdict: did each neuron respond most to the stimulus designed for it, as the model said?

The designed stimuli are found in a recorded session by their content (the frames on its screen, as
repeats are found): a presentation starts where a stimulus' frames appear in order. A presentation's
response is a neuron's mean over its ticks, shifted by `lag_ticks` (latency and calcium). For every
targeted ROI, its responses to its own stimulus are paired, repeat by repeat, with its mean response
to the other stimuli of the set (the controls: other neurons' MEIs, and any control stimulus
exported with them): a one-sided Wilcoxon signed-rank test (own > controls), the paired effect size
(mean difference / its std, Cohen's d_z), Benjamini-Hochberg adjusted over the targeted ROIs. The
model's prediction of the same contrast comes from showing it the same stimuli after a grey burn-in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.stats import wilcoxon

from nwb_v1former.analysis.experiment import DEFAULT_STATES, BehaviorState, model_device
from nwb_v1former.analysis.results import AnalysisProvenance, ResultTable
from nwb_v1former.analysis.stimulus_space import Screen
from nwb_v1former.errors import ConfigError, SessionError
from nwb_v1former.metrics import benjamini_hochberg
from nwb_v1former.model.model import V1Former
from nwb_v1former.nwb.stimulus_set import StimulusSet


@dataclass(frozen=True)
class LoopConfig:
    """`tolerance`: largest mean absolute pixel difference at which a frame is the stimulus' own;
    `lag_ticks`: response window shift; `burn_in`: grey ticks before a stimulus shown to the model."""

    tolerance: float = 2.0
    lag_ticks: int = 3
    burn_in: int = 15
    alpha: float = 0.05

    def __post_init__(self) -> None:
        if not (self.tolerance >= 0 and self.lag_ticks >= 0 and self.burn_in >= 0 and 0 < self.alpha < 1):
            raise ConfigError("loop config: tolerance, lag_ticks, burn_in must be >= 0 and alpha in (0, 1)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def find_presentations(video: np.ndarray, frames: np.ndarray, tolerance: float) -> np.ndarray:
    """First ticks at which `frames` (F, 36, 64) appear in order in `video` (T, 36, 64); (P,) int64."""
    reference = frames.astype(np.float32)
    first = np.abs(video.astype(np.float32) - reference[0]).mean(axis=(1, 2)) <= tolerance
    candidates = np.flatnonzero(first & ~np.r_[False, first[:-1]])
    length = len(frames)
    onsets = [
        tick
        for tick in candidates
        if tick + length <= len(video)
        and np.abs(video[tick : tick + length].astype(np.float32) - reference).mean(axis=(1, 2)).max()
        <= tolerance
    ]
    return np.asarray(onsets, np.int64)


@dataclass(frozen=True, eq=False)  # array fields: compare by identity
class LoopResult:
    """Per targeted ROI (M): recorded (M, S) and predicted (M, S) mean responses to each of the S
    stimuli, own (M,) its stimulus, and the paired statistics of own against the others."""

    roi_ids: np.ndarray
    names: list[str]
    presentations: np.ndarray
    recorded: np.ndarray
    predicted: np.ndarray
    own: np.ndarray
    recorded_difference: np.ndarray
    predicted_difference: np.ndarray
    effect_size: np.ndarray
    p_value: np.ndarray
    p_adjusted: np.ndarray
    config: LoopConfig
    provenance: AnalysisProvenance

    def table(self) -> ResultTable:
        rows = np.arange(len(self.roi_ids))
        columns = {
            "roi_id": ("ROI id in the session (the PlaneSegmentation id).", self.roi_ids),
            "stimulus": ("Index of the ROI's own stimulus in the set.", self.own),
            "recorded_own": ("Recorded mean response to its own stimulus.", self.recorded[rows, self.own]),
            "recorded_difference": (
                "Recorded own minus mean of the other stimuli (paired by repeat), averaged.",
                self.recorded_difference,
            ),
            "predicted_difference": (
                "The model's own minus mean of the other stimuli (response units of the model).",
                self.predicted_difference,
            ),
            "effect_size": ("Cohen's d_z of the paired differences (own - others).", self.effect_size),
            "p_value": ("One-sided Wilcoxon signed-rank p (own > others), over repeats.", self.p_value),
            "p_adjusted": ("Benjamini-Hochberg adjusted p over the targeted ROIs.", self.p_adjusted),
        }
        description = (
            f"Closed loop: recorded responses to designed stimuli found in the session by content; each "
            f"targeted ROI's own stimulus against the set's others. {self.provenance.describe()}"
        )
        return ResultTable("closed_loop", description, columns)

    def summary(self) -> dict[str, Any]:
        significant = self.p_adjusted < self.config.alpha
        agree = np.sign(self.recorded_difference) == np.sign(self.predicted_difference)
        return {
            "targeted_rois": len(self.roi_ids),
            "presentations": int(self.presentations.sum()),
            "own_stimulus_best_recorded": int((self.recorded.argmax(axis=1) == self.own).sum()),
            "own_beats_others_bh": int(significant.sum()),
            "median_effect_size": float(np.nanmedian(self.effect_size)) if len(self.roi_ids) else None,
            "prediction_sign_agrees": int(agree.sum()),
        }


@torch.no_grad()
def predicted_responses(
    model: V1Former,
    session: str,
    columns: np.ndarray,
    stimuli: StimulusSet,
    screen: Screen,
    config: LoopConfig,
    state: BehaviorState = DEFAULT_STATES[0],
) -> np.ndarray:
    """The model's mean response of `columns` (M,) to each stimulus, over the window the recording is
    averaged over; (M, S)."""
    device = model_device(model)
    model.eval()
    out = np.empty((len(columns), len(stimuli.names)), np.float32)
    for index, frames in enumerate(stimuli.frames):
        shown = torch.as_tensor(screen.from_pixels(frames))
        grey = torch.zeros(config.burn_in, *shown.shape[1:])
        after = torch.zeros(config.lag_ticks, *shown.shape[1:])
        video = torch.cat([grey, shown, after])[None, None].to(device)
        behavior, pupil = state.inputs(1, video.shape[2], device)
        output = model(video, behavior, pupil, session=session)[0].float().cpu().numpy()
        window = slice(config.burn_in + config.lag_ticks, config.burn_in + config.lag_ticks + len(frames))
        out[:, index] = output[window][:, columns].mean(axis=0)
    return out


def loop_statistics(
    roi_ids: np.ndarray,
    responses: np.ndarray,
    video: np.ndarray,
    stimuli: StimulusSet,
    predicted: np.ndarray,
    provenance: AnalysisProvenance,
    config: LoopConfig,
) -> LoopResult:
    """The verdict for the targeted ROIs found in the session; responses (T, N) and video (T, 36, 64)
    of the recorded session, roi_ids (N,); predicted (M, S) for the targeted ROIs present, in order."""
    targets = [
        (s, int(roi)) for s, roi in enumerate(stimuli.target_roi) if roi >= 0 and roi in set(roi_ids.tolist())
    ]
    if not targets:
        raise SessionError(
            "none of the set's targeted ROIs is in the session; is it the animal the set was designed for?"
        )
    onsets = [find_presentations(video, frames, config.tolerance) for frames in stimuli.frames]
    counts = np.array([len(found) for found in onsets])
    if counts.min() < 2:
        missing = [stimuli.names[s] for s in np.flatnonzero(counts < 2)]
        raise SessionError(f"stimuli shown fewer than twice in the session: {', '.join(missing[:5])}")
    repeats = int(counts.min())
    column_of = {int(roi): column for column, roi in enumerate(roi_ids)}
    columns = np.array([column_of[roi] for _, roi in targets])
    per_repeat = np.empty((len(columns), len(stimuli.names), repeats), np.float32)  # (M, S, R)
    for s, (found, frames) in enumerate(zip(onsets, stimuli.frames, strict=True)):
        for r, tick in enumerate(found[:repeats]):
            window = slice(tick + config.lag_ticks, tick + config.lag_ticks + len(frames))
            per_repeat[:, s, r] = np.asarray(responses[window][:, columns]).mean(axis=0)
    own = np.array([s for s, _ in targets])
    rows = np.arange(len(own))
    others = np.ones((len(own), len(stimuli.names)), bool)
    others[rows, own] = False
    own_responses = per_repeat[rows, own]  # (M, R)
    control = np.stack([per_repeat[m, others[m]].mean(axis=0) for m in rows])  # (M, R)
    difference = own_responses - control
    with np.errstate(invalid="ignore", divide="ignore"):
        effect = difference.mean(axis=1) / difference.std(axis=1, ddof=1)
    p_value = np.array(
        [wilcoxon(d, alternative="greater").pvalue if np.any(d != 0) else 1.0 for d in difference]
    )
    predicted_others = np.stack([predicted[m, others[m]].mean() for m in rows])
    return LoopResult(
        roi_ids=np.array([roi for _, roi in targets], np.int64),
        names=list(stimuli.names),
        presentations=counts,
        recorded=per_repeat.mean(axis=2),
        predicted=predicted,
        own=own,
        recorded_difference=difference.mean(axis=1),
        predicted_difference=predicted[rows, own] - predicted_others,
        effect_size=effect,
        p_value=p_value,
        p_adjusted=benjamini_hochberg(p_value),
        config=config,
        provenance=provenance,
    )
