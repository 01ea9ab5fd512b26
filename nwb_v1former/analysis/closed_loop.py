"""The loop's verdict: did each neuron respond most to the stimulus designed for it, as the model said?

The set's stimuli are found in a recorded session by their content (the frames on its screen, as
repeats are found): a presentation starts where a stimulus' frames appear in order. A presentation's
response is a neuron's mean over its ticks, shifted by `lag_ticks` (latency and calcium).

Every designed stimulus with a target ROI in the session is judged against up to three controls:
`other_designed` (the mean over the other ROIs' stimuli of the same design), `natural` (the ROI's best
natural clip) and `grating` (its best grating), the last two when the set holds them (`insilico
controls`) and the design excites. Responses are paired repeat by repeat: a one-sided Wilcoxon
signed-rank test (own > control; own < control for an inhibiting design), the paired effect size (mean
difference / its std, Cohen's d_z), and Benjamini-Hochberg adjustment over the ROIs of each control.
The model's prediction of the same contrasts comes from showing it the same stimuli after grey.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.stats import wilcoxon

from nwb_v1former.analysis.controls import CONTROL_ROLES
from nwb_v1former.analysis.experiment import DEFAULT_STATES, BehaviorState, model_device
from nwb_v1former.analysis.results import AnalysisProvenance, ResultTable, finite_median
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


CONTROLS = ("other_designed", *CONTROL_ROLES)
"""What each designed stimulus is judged against (see the module docstring)."""


@dataclass(frozen=True, eq=False)  # array fields: compare by identity
class Comparisons:
    """K (designed stimulus, control) pairs: the ROI, its stimulus, the control's name, the test's
    direction, and per pair the recorded and predicted mean responses to own and control and the
    paired statistics; all (K,)."""

    roi_id: np.ndarray
    stimulus: np.ndarray
    control: np.ndarray
    alternative: np.ndarray
    recorded_own: np.ndarray
    recorded_control: np.ndarray
    predicted_own: np.ndarray
    predicted_control: np.ndarray
    recorded_difference: np.ndarray
    effect_size: np.ndarray
    p_value: np.ndarray
    p_adjusted: np.ndarray


@dataclass(frozen=True, eq=False)  # array fields: compare by identity
class LoopResult:
    """The set's S stimuli (names, roles), how often each was found; for the M targeted ROIs present
    (roi_ids), recorded (M, S) and predicted (M, S) mean responses to every stimulus; and the judged
    pairs (`comparisons`)."""

    roi_ids: np.ndarray
    names: list[str]
    roles: list[str]
    presentations: np.ndarray
    recorded: np.ndarray
    predicted: np.ndarray
    comparisons: Comparisons
    own_best: np.ndarray
    config: LoopConfig
    provenance: AnalysisProvenance

    def table(self) -> ResultTable:
        pairs = self.comparisons
        with np.errstate(invalid="ignore", divide="ignore"):
            recorded_ratio = pairs.recorded_own / pairs.recorded_control
            predicted_ratio = pairs.predicted_own / pairs.predicted_control
        columns = {
            "roi_id": ("ROI id in the session (the PlaneSegmentation id).", pairs.roi_id),
            "stimulus": ("Index of the ROI's designed stimulus in the set.", pairs.stimulus),
            "control": (
                "What it is judged against: other_designed (mean over the other ROIs' stimuli of the same "
                "design), natural (the ROI's best natural clip), grating (its best grating).",
                pairs.control,
            ),
            "alternative": ("Direction tested: greater (an exciting design) or less.", pairs.alternative),
            "recorded_own": ("Recorded mean response to the designed stimulus.", pairs.recorded_own),
            "recorded_control": ("Recorded mean response to the control.", pairs.recorded_control),
            "recorded_ratio": ("recorded_own / recorded_control.", recorded_ratio),
            "predicted_ratio": ("The model's own / control, same window.", predicted_ratio),
            "recorded_difference": (
                "Recorded own minus control, paired by repeat, averaged.",
                pairs.recorded_difference,
            ),
            "predicted_difference": (
                "The model's own minus control (its response units).",
                pairs.predicted_own - pairs.predicted_control,
            ),
            "effect_size": ("Cohen's d_z of the paired differences (own - control).", pairs.effect_size),
            "p_value": (
                "One-sided Wilcoxon signed-rank p over repeats, in the direction tested.",
                pairs.p_value,
            ),
            "p_adjusted": ("Benjamini-Hochberg adjusted p over the ROIs of this control.", pairs.p_adjusted),
        }
        description = (
            f"Closed loop: recorded responses to a stimulus set found in the session by content; each "
            f"designed stimulus against its controls. {self.provenance.describe()}"
        )
        return ResultTable("closed_loop", description, columns)

    def summary(self) -> dict[str, Any]:
        pairs = self.comparisons
        controls = {}
        for control in CONTROLS:
            rows = pairs.control == control
            if not rows.any():
                continue
            sign = np.where(pairs.alternative[rows] == "less", -1.0, 1.0)
            recorded = pairs.recorded_own[rows] - pairs.recorded_control[rows]
            predicted = pairs.predicted_own[rows] - pairs.predicted_control[rows]
            with np.errstate(invalid="ignore", divide="ignore"):
                recorded_ratio = pairs.recorded_own[rows] / pairs.recorded_control[rows]
                predicted_ratio = pairs.predicted_own[rows] / pairs.predicted_control[rows]
            controls[control] = {
                "pairs": int(rows.sum()),
                "own_beats_control_bh": int((pairs.p_adjusted[rows] < self.config.alpha).sum()),
                "own_beats_control_recorded": int((sign * recorded > 0).sum()),
                "median_recorded_ratio": finite_median(recorded_ratio),
                "median_predicted_ratio": finite_median(predicted_ratio),
                "median_effect_size": finite_median(sign * pairs.effect_size[rows]),
                "prediction_sign_agrees": int((np.sign(recorded) == np.sign(predicted)).sum()),
            }
        return {
            "targeted_rois": len(self.roi_ids),
            "designed_stimuli": len(self.own_best),
            "presentations": int(self.presentations.sum()),
            "own_stimulus_best_recorded": int(self.own_best.sum()),
            "controls": controls,
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


def _control_sets(stimuli: StimulusSet, own: int, roi: int) -> dict[str, np.ndarray]:
    """The stimuli each control of designed stimulus `own` (for `roi`) averages over, by control name."""
    roles, targets = np.asarray(stimuli.roles), stimuli.target_roi
    sets = {"other_designed": np.flatnonzero((roles == roles[own]) & (targets >= 0) & (targets != roi))}
    if "_inhibit_" not in stimuli.roles[own]:
        sets |= {role: np.flatnonzero((roles == role) & (targets == roi)) for role in CONTROL_ROLES}
    return {name: found for name, found in sets.items() if len(found)}


def _paired_test(difference: np.ndarray, alternative: str) -> float:
    """One-sided Wilcoxon signed-rank p of paired differences (1 when they are all zero)."""
    return float(wilcoxon(difference, alternative=alternative).pvalue) if np.any(difference != 0) else 1.0


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
    of the recorded session, roi_ids (N,); predicted (M, S) for the targeted ROIs present, in order
    (`targeted_rois`)."""
    targeted = targeted_rois(stimuli, roi_ids)
    onsets = [find_presentations(video, frames, config.tolerance) for frames in stimuli.frames]
    counts = np.array([len(found) for found in onsets])
    if counts.min() < 2:
        missing = [stimuli.names[s] for s in np.flatnonzero(counts < 2)]
        raise SessionError(f"stimuli shown fewer than twice in the session: {', '.join(missing[:5])}")
    repeats = int(counts.min())
    column_of = {int(roi): column for column, roi in enumerate(roi_ids)}
    columns = np.array([column_of[roi] for roi in targeted])
    per_repeat = np.empty((len(columns), len(stimuli.names), repeats), np.float32)  # (M, S, R)
    for s, (found, frames) in enumerate(zip(onsets, stimuli.frames, strict=True)):
        for r, tick in enumerate(found[:repeats]):
            window = slice(tick + config.lag_ticks, tick + config.lag_ticks + len(frames))
            per_repeat[:, s, r] = np.asarray(responses[window][:, columns]).mean(axis=0)
    recorded = per_repeat.mean(axis=2)
    row_of = {roi: row for row, roi in enumerate(targeted)}
    roles = np.asarray(stimuli.roles)
    pairs: dict[str, list[Any]] = {
        name: [] for name in Comparisons.__dataclass_fields__ if name != "p_adjusted"
    }
    own_best = []
    for own in designed_stimuli(stimuli, targeted):
        roi = int(stimuli.target_roi[own])
        m = row_of[roi]
        alternative = "less" if "_inhibit_" in stimuli.roles[own] else "greater"
        same_design = np.flatnonzero(roles == roles[own])
        pick = np.argmin if alternative == "less" else np.argmax
        own_best.append(same_design[pick(recorded[m, same_design])] == own)
        for control, members in _control_sets(stimuli, own, roi).items():
            difference = per_repeat[m, own] - per_repeat[m, members].mean(axis=0)  # (R,)
            with np.errstate(invalid="ignore", divide="ignore"):
                effect = difference.mean() / difference.std(ddof=1)
            values = (
                roi, own, control, alternative, recorded[m, own], recorded[m, members].mean(),
                predicted[m, own], predicted[m, members].mean(), difference.mean(), effect,
                _paired_test(difference, alternative),
            )  # fmt: skip
            for name, value in zip(pairs, values, strict=True):
                pairs[name].append(value)
    if not pairs["roi_id"]:
        raise ConfigError(
            "the set holds nothing to judge a design against: no other ROI's design and no controls; "
            "export it with `insilico controls` results, or design for several ROIs"
        )
    arrays = {name: np.asarray(values) for name, values in pairs.items()}
    adjusted = np.full(len(arrays["p_value"]), np.nan)
    for control in CONTROLS:
        rows = arrays["control"] == control
        if rows.any():
            adjusted[rows] = benjamini_hochberg(arrays["p_value"][rows])
    return LoopResult(
        roi_ids=np.asarray(targeted, np.int64),
        names=list(stimuli.names),
        roles=list(stimuli.roles),
        presentations=counts,
        recorded=recorded,
        predicted=predicted,
        comparisons=Comparisons(**arrays, p_adjusted=adjusted),
        own_best=np.asarray(own_best, bool),
        config=config,
        provenance=provenance,
    )


def designed_stimuli(stimuli: StimulusSet, targeted: list[int]) -> list[int]:
    """Indices of the designed (non-control) stimuli aimed at one of the `targeted` ROIs."""
    return [
        s
        for s, (roi, role) in enumerate(zip(stimuli.target_roi, stimuli.roles, strict=True))
        if role not in CONTROL_ROLES and int(roi) in targeted
    ]


def targeted_rois(stimuli: StimulusSet, roi_ids: np.ndarray) -> list[int]:
    """The ROIs the set's designed stimuli aim at that the session has, in order; refused when none."""
    present = set(np.asarray(roi_ids).tolist())
    designed = [
        int(roi)
        for roi, role in zip(stimuli.target_roi, stimuli.roles, strict=True)
        if role not in CONTROL_ROLES
    ]
    found = sorted({roi for roi in designed if roi >= 0 and roi in present})
    if not found:
        raise SessionError(
            "none of the set's targeted ROIs is in the session; is it the animal the set was designed for?"
        )
    return found
