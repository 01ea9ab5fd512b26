"""Figures of the designed stimuli (MEIs / MEVs) and of contextual modulation, for the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nwb_v1former.analysis.closed_loop import CONTROLS, LoopResult
from nwb_v1former.analysis.contextual import ContextResult
from nwb_v1former.analysis.controls import ControlResult
from nwb_v1former.analysis.mei import MEIResult
from nwb_v1former.analysis.report_figures import PREDICTED, RECORDED, new_figure, save_png

SHOWN = 8
"""Stimuli drawn: the first SHOWN, with up to 6 frames of each video as a strip."""


def frame_strips(stimuli: np.ndarray, labels: list[str], path: Path) -> Path:
    """Stimuli (S, F, 36, 64) uint8 as the screen shows them, one row each labelled by `labels` (S,);
    videos as strips of up to 6 frames."""
    frames = np.linspace(0, stimuli.shape[1] - 1, min(6, stimuli.shape[1])).round().astype(int)
    figure = new_figure(2.2 * len(frames) + 0.5, 1.5 * len(stimuli) + 0.6)
    axes = np.asarray(figure.subplots(len(stimuli), len(frames), squeeze=False))
    for row, (stimulus, label) in enumerate(zip(stimuli, labels, strict=True)):
        for column, frame in enumerate(frames):
            ax = axes[row, column]
            ax.imshow(stimulus[frame], cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if column == 0:
                ax.set_ylabel(label, fontsize=8)
            if row == 0 and len(frames) > 1:
                ax.set_title(f"frame {frame}", fontsize=8)
    return save_png(figure, path)


def mei_figure(result: MEIResult, path: Path) -> Path:
    """The stimuli as the screen shows them (one row each; videos as frame strips), labelled with the
    targeted ROI(s) and the response over grey."""
    labels = []
    for row in range(min(SHOWN, len(result.stimuli))):
        targeted = np.flatnonzero(result.stimulus_of == row)
        ratio = float(np.mean(result.response[targeted] / np.maximum(result.grey[targeted], 1e-6)))
        rois = "population" if result.population else f"ROI {int(result.roi_ids[targeted[0]])}"
        labels.append(f"{rois}\n{ratio:.2f} x grey")
    return frame_strips(result.pixels[:SHOWN], labels, path)


def controls_figure(result: ControlResult, path: Path) -> Path:
    """Each ROI's natural clip and grating (the first SHOWN // 2 ROIs), labelled with its response over
    grey."""
    shown = min(SHOWN // 2, len(result.roi_ids))
    grey = np.maximum(result.grey[:shown], 1e-6)
    stimuli, labels = [], []
    for row in range(shown):
        roi = int(result.roi_ids[row])
        for role, response in (("natural", result.natural_response), ("grating", result.grating_response)):
            stimuli.append(result.pixels(role)[row])
            labels.append(f"ROI {roi} {role}\n{response[row] / grey[row]:.2f} x grey")
    return frame_strips(np.stack(stimuli), labels, path)


def contextual_figure(result: ContextResult, path: Path) -> Path:
    """Size-tuning curves of the first ROIs, and iso against cross surround modulation."""
    figure = new_figure(10, 3.6)
    curves, surround = figure.subplots(1, 2)
    diameters = np.asarray(result.config.diameters_px)
    for row in range(min(SHOWN, len(result.roi_ids))):
        peak = np.nanmax(result.size_tuning[row])
        if peak > 0:
            curves.plot(diameters, result.size_tuning[row] / peak, color=PREDICTED, alpha=0.6)
    curves.set_xscale("log")
    curves.set_xlabel("disc diameter (px)")
    curves.set_ylabel("response above grey / peak")
    curves.set_title("size tuning")
    surround.scatter(result.iso_modulation, result.cross_modulation, s=10, color=RECORDED)
    surround.axline((0, 0), slope=1, color="grey", lw=0.8)
    surround.set_xlabel("iso surround / centre alone")
    surround.set_ylabel("cross surround / centre alone")
    surround.set_title("surround modulation")
    return save_png(figure, path)


def loop_figure(result: LoopResult, path: Path) -> Path:
    """Per control: the recorded against the predicted own-minus-control difference of each designed
    stimulus (BH-significant in colour), and the recorded responses to control and own, joined."""
    pairs = result.comparisons
    controls = [control for control in CONTROLS if np.any(pairs.control == control)]
    figure = new_figure(3.4 * len(controls) + 0.4, 6.4)
    axes = np.asarray(figure.subplots(2, len(controls), squeeze=False))
    for column, control in enumerate(controls):
        rows = pairs.control == control
        significant = pairs.p_adjusted[rows] < result.config.alpha
        contrast, paired = axes[0, column], axes[1, column]
        contrast.scatter(
            pairs.predicted_own[rows] - pairs.predicted_control[rows],
            pairs.recorded_difference[rows],
            c=np.where(significant, RECORDED, "grey"),
            s=14,
        )
        contrast.axhline(0, color="grey", lw=0.8)
        contrast.axvline(0, color="grey", lw=0.8)
        contrast.set_xlabel("predicted: own - control")
        contrast.set_ylabel("recorded: own - control")
        contrast.set_title(f"vs {control} ({significant.sum()}/{rows.sum()} BH p < {result.config.alpha:g})")
        for own, other in zip(pairs.recorded_own[rows], pairs.recorded_control[rows], strict=True):
            paired.plot([0, 1], [other, own], color=PREDICTED, alpha=0.5, marker="o", ms=3)
        paired.set_xticks([0, 1], [control, "designed"])
        paired.set_xlim(-0.3, 1.3)
        paired.set_ylabel("recorded mean response")
    return save_png(figure, path)
