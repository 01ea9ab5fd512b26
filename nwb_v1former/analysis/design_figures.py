"""Figures of the designed stimuli (MEIs / MEVs) and of contextual modulation, for the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nwb_v1former.analysis.closed_loop import LoopResult
from nwb_v1former.analysis.contextual import ContextResult
from nwb_v1former.analysis.mei import MEIResult
from nwb_v1former.analysis.report_figures import PREDICTED, RECORDED, new_figure, save_png

SHOWN = 8
"""Stimuli drawn: the first SHOWN, with up to 6 frames of each video as a strip."""


def mei_figure(result: MEIResult, path: Path) -> Path:
    """The stimuli as the screen shows them (one row each; videos as frame strips), titled with the
    targeted ROI(s) and the response over grey."""
    stimuli = result.pixels[:SHOWN]
    frames = np.linspace(0, stimuli.shape[1] - 1, min(6, stimuli.shape[1])).round().astype(int)
    figure = new_figure(2.2 * len(frames) + 0.5, 1.5 * len(stimuli) + 0.6)
    axes = np.asarray(figure.subplots(len(stimuli), len(frames), squeeze=False))
    for row, stimulus in enumerate(stimuli):
        targeted = np.flatnonzero(result.stimulus_of == row)
        ratio = float(np.mean(result.response[targeted] / np.maximum(result.grey[targeted], 1e-6)))
        rois = "population" if result.population else f"ROI {int(result.roi_ids[targeted[0]])}"
        for column, frame in enumerate(frames):
            ax = axes[row, column]
            ax.imshow(stimulus[frame], cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if column == 0:
                ax.set_ylabel(f"{rois}\n{ratio:.2f} x grey", fontsize=8)
            if row == 0 and len(frames) > 1:
                ax.set_title(f"frame {frame}", fontsize=8)
    return save_png(figure, path)


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
    """Recorded against predicted own-minus-others contrast per targeted ROI, and each ROI's recorded
    responses to every stimulus (own marked)."""
    figure = new_figure(10, 3.6)
    contrast, responses = figure.subplots(1, 2)
    significant = result.p_adjusted < result.config.alpha
    contrast.scatter(
        result.predicted_difference,
        result.recorded_difference,
        c=np.where(significant, RECORDED, "grey"),
        s=14,
    )
    contrast.axhline(0, color="grey", lw=0.8)
    contrast.axvline(0, color="grey", lw=0.8)
    contrast.set_xlabel("predicted: own - others")
    contrast.set_ylabel("recorded: own - others")
    contrast.set_title(f"own stimulus (BH p < {result.config.alpha:g} in colour)")
    for row in range(min(SHOWN, len(result.roi_ids))):
        responses.plot(result.recorded[row], color=PREDICTED, alpha=0.4)
        responses.scatter([result.own[row]], [result.recorded[row, result.own[row]]], color=RECORDED, s=16)
    responses.set_xlabel("stimulus")
    responses.set_ylabel("recorded mean response")
    responses.set_title("responses to the set (own: dot)")
    return save_png(figure, path)
