"""The report's figures: plain matplotlib Figures drawn by the Agg renderer into PNG files.

matplotlib is imported inside each function (a training run that never reports never pays for it) and
no pyplot state is used, so figures can be drawn from any thread and never open a window.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nwb_v1former.analysis.report_data import ClipTraces, TraceRow
from nwb_v1former.grid import FRAME_HEIGHT, FRAME_WIDTH

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MIN_CEILING = 0.1
"""Neurons with a lower noise ceiling are left out of the fraction-of-ceiling histogram (ratio explodes)."""
FEVE_FLOOR = -2.0
"""FEVE figures draw values below this at it (FEVE has no lower bound; a few very negative neurons would
flatten the rest)."""
RECORDED, PREDICTED, CEILING = "#222222", "#d95f02", "#1b9e77"
DPI = 110


def new_figure(width: float, height: float) -> Figure:
    """An empty figure of `width` x `height` inches on the Agg canvas (no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, path: Path) -> Path:
    """Write `figure` to `path` as PNG at the report's resolution."""
    figure.savefig(path, dpi=DPI)
    return path


def learning_curves(metrics: list[dict], best_epoch: int | None, path: Path) -> Path:
    """Train loss and validation correlation (per session, and their mean) by epoch; best epoch marked."""
    figure = new_figure(10, 3.6)
    loss_axes, score_axes = figure.subplots(1, 2)
    epochs = [row["epoch"] for row in metrics]
    losses = [np.nan if row.get("train_loss") is None else row["train_loss"] for row in metrics]
    loss_axes.plot(epochs, losses, "o-", color=RECORDED)
    loss_axes.set(xlabel="epoch", ylabel="training loss (Poisson)", title="Training loss")
    sessions = list(metrics[0].get("validation_correlation_per_session", {})) if metrics else []
    for key in sessions:
        values = [row["validation_correlation_per_session"].get(key, np.nan) for row in metrics]
        score_axes.plot(epochs, values, ".-", lw=1, alpha=0.8, label=key if len(sessions) <= 8 else None)
    if len(sessions) > 1:
        mean = [row["validation_correlation"] for row in metrics]
        score_axes.plot(epochs, mean, "o-", color=RECORDED, lw=2, label="mean over sessions")
    if best_epoch is not None:
        for axes in (loss_axes, score_axes):
            axes.axvline(best_epoch, color=PREDICTED, ls="--", lw=1)
        score_axes.plot([], [], color=PREDICTED, ls="--", label=f"best epoch ({best_epoch})")
    score_axes.set(xlabel="epoch", ylabel="single-trial correlation", title="Validation correlation")
    score_axes.legend(fontsize="small")
    for axes in (loss_axes, score_axes):
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.grid(alpha=0.3)
    return save_png(figure, path)


def correlation_figure(
    correlation: np.ndarray, ceiling: np.ndarray | None, ceiling_label: str, path: Path
) -> Path:
    """Per-neuron single-trial correlation (N,): histogram; with a ceiling (N,) also the scatter against it
    and the histogram of the fraction of the ceiling reached."""
    panels = 1 if ceiling is None else 3
    figure = new_figure(4.2 * panels, 3.6)
    axes = np.atleast_1d(figure.subplots(1, panels))
    scored = np.isfinite(correlation)
    bins = np.linspace(min(-0.1, np.nanmin(correlation[scored], initial=0.0)), 1.0, 34)
    axes[0].hist(correlation[scored], bins=bins, color=PREDICTED, alpha=0.8, label="model")
    axes[0].axvline(np.mean(correlation[scored]), color=PREDICTED, lw=1.5)
    axes[0].set(xlabel="single-trial correlation", ylabel="neurons", title=f"{scored.sum()} neurons")
    if ceiling is not None:
        both = scored & np.isfinite(ceiling)
        axes[0].hist(ceiling[both], bins=bins, histtype="step", color=CEILING, lw=1.5, label=ceiling_label)
        axes[0].axvline(np.mean(ceiling[both]), color=CEILING, lw=1.5)
        axes[1].scatter(ceiling[both], correlation[both], s=8, alpha=0.6, color=PREDICTED)
        limit = [min(0.0, np.min(correlation[both], initial=0.0)), 1.0]
        axes[1].plot(limit, limit, color=RECORDED, lw=1, ls="--", label="model = ceiling")
        axes[1].set(xlabel=ceiling_label, ylabel="single-trial correlation", title="Per neuron")
        axes[1].legend(fontsize="small", loc="upper left")
        usable = both & (ceiling >= MIN_CEILING)
        fraction = correlation[usable] / ceiling[usable]
        axes[2].hist(fraction, bins=np.linspace(min(-0.2, fraction.min(initial=0.0)), 1.2, 29), color=CEILING)
        if len(fraction):
            axes[2].axvline(
                np.median(fraction), color=RECORDED, lw=1.5, label=f"median {np.median(fraction):.2f}"
            )
            axes[2].legend(fontsize="small")
        axes[2].set(
            xlabel=f"correlation / ceiling ({usable.sum()} neurons with ceiling >= {MIN_CEILING})",
            ylabel="neurons",
            title="Fraction of the ceiling reached",
        )
    axes[0].legend(fontsize="small")
    return save_png(figure, path)


def feve_figure(correlation: np.ndarray, feve: np.ndarray, path: Path) -> Path:
    """Per-neuron FEVE (N,) against single-trial correlation (N,), and FEVE's histogram: neurons whose
    correlation is good but FEVE low are predicted with the right shape at the wrong scale or offset."""
    figure = new_figure(9, 3.6)
    scatter_axes, histogram_axes = figure.subplots(1, 2)
    both = np.isfinite(correlation) & np.isfinite(feve)
    inside, below = both & (feve >= FEVE_FLOOR), both & (feve < FEVE_FLOOR)
    scatter_axes.scatter(correlation[inside], feve[inside], s=8, alpha=0.6, color=PREDICTED)
    scatter_axes.scatter(
        correlation[below],
        np.full(below.sum(), FEVE_FLOOR),
        s=14,
        marker="v",
        color=PREDICTED,
        label=f"below {FEVE_FLOOR:g}, drawn at it ({below.sum()})",
    )
    scatter_axes.axhline(0, color=RECORDED, lw=1, ls="--", label="FEVE 0: no better than a constant")
    scatter_axes.set(
        xlabel="single-trial correlation",
        ylabel="FEVE (fraction of explainable variance explained)",
        title=f"Per neuron ({both.sum()} with a defined FEVE)",
    )
    scatter_axes.legend(fontsize="small", loc="upper left")
    clipped = np.clip(feve[both], FEVE_FLOOR, 1.0)  # FEVE has no lower bound: the floor's bin holds the rest
    histogram_axes.hist(clipped, bins=np.linspace(FEVE_FLOOR, 1.0, 31), color=PREDICTED)
    histogram_axes.axvline(0, color=RECORDED, lw=1, ls="--")
    histogram_axes.set(
        xlabel=f"FEVE (values below {FEVE_FLOOR:g} counted at {FEVE_FLOOR:g})",
        ylabel="neurons",
        title="FEVE over neurons",
    )
    for axes in (scatter_axes, histogram_axes):
        axes.grid(alpha=0.3)
    return save_png(figure, path)


def traces_figure(
    clips: list[ClipTraces], rows: list[TraceRow], unit: str, skip_seconds: float, path: Path
) -> Path:
    """`draw_traces` into a PNG at `path`."""
    return save_png(draw_traces(clips, rows, unit, skip_seconds), path)


def draw_traces(clips: list[ClipTraces], rows: list[TraceRow], unit: str, skip_seconds: float) -> Figure:
    """Per neuron (a row) its chosen clips (columns): recorded showings (grey), their mean (black) and the
    mean prediction (orange), each clip's single-trial correlation and FEVE in its title."""
    from matplotlib.lines import Line2D

    columns = max(len(row.clips) for row in rows)
    figure = new_figure(5.2 * columns, 2.5 * len(rows) + 0.5)
    for subfigure, row in zip(np.atleast_1d(figure.subfigures(len(rows), 1)), rows, strict=True):
        subfigure.suptitle(
            f"{row.label} neuron, ROI {row.roi_id}: r {row.correlation:.2f}, FEVE {_score(row.feve)} "
            "over all held-out trials",
            fontweight="bold",
            fontsize="medium",
            x=0.01,
            ha="left",
        )
        panels = np.atleast_1d(subfigure.subplots(1, columns, squeeze=False)[0])
        for axes in panels[len(row.clips) :]:
            axes.set_axis_off()
        for axes, index in zip(panels, row.clips, strict=False):
            clip = clips[index]
            for showing in clip.recorded[:, :, row.neuron]:
                axes.plot(clip.seconds, showing, color="#bbbbbb", lw=0.6)
            axes.plot(clip.seconds, clip.recorded[:, :, row.neuron].mean(0), color=RECORDED, lw=1.5)
            axes.plot(clip.seconds, clip.predicted[:, :, row.neuron].mean(0), color=PREDICTED, lw=1.5)
            axes.axvspan(0, skip_seconds, color="#eeeeee", zorder=0)
            correlation, feve = clip.scores(row.neuron)
            axes.set_title(
                f"clip {index + 1} of {len(clips)} ({clip.repeats} showings): r {correlation:.2f}, "
                f"FEVE {_score(feve)}",
                fontsize="small",
            )
            axes.set(ylabel=unit, xlabel="seconds from the clip's start (grey: not scored)")
            axes.grid(alpha=0.3)
    handles = [
        Line2D([], [], color="#bbbbbb", label="recorded, each showing"),
        Line2D([], [], color=RECORDED, label="recorded, mean"),
        Line2D([], [], color=PREDICTED, label="predicted, mean"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=3, fontsize="small")
    return figure


def _score(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.2f}"


def readout_figure(
    readout: np.ndarray,
    cortex: np.ndarray,
    cortex_unit: str,
    truth: np.ndarray | None,
    correlations: tuple[float, float] | None,
    path: Path,
) -> Path:
    """Readout positions (N, 2) (row, column px) over the frame, coloured by cortical x and y (N, >=2);
    with true RF centres (N, 2) also readout against truth, per axis, with Pearson r."""
    panels = 2 if truth is None else 4
    figure = new_figure(10, 3.3 * (panels // 2) + 0.2)
    axes = figure.subplots(panels // 2, 2, squeeze=False).ravel()
    for ax, axis, name in ((axes[0], 0, "x"), (axes[1], 1, "y")):
        points = ax.scatter(readout[:, 1], readout[:, 0], c=cortex[:, axis], s=10, cmap="viridis")
        ax.set(xlim=(0, FRAME_WIDTH), ylim=(FRAME_HEIGHT, 0), aspect="equal")
        ax.set(
            xlabel="frame column (px)", ylabel="frame row (px)", title=f"Readout, coloured by cortical {name}"
        )
        figure.colorbar(points, ax=ax, label=f"cortical {name} ({cortex_unit})", shrink=0.8)
    if truth is not None and correlations is not None:
        for ax, axis, name, size in ((axes[2], 1, "column", FRAME_WIDTH), (axes[3], 0, "row", FRAME_HEIGHT)):
            ax.scatter(truth[:, axis], readout[:, axis], s=8, alpha=0.6, color=PREDICTED)
            ax.plot([0, size], [0, size], color=RECORDED, lw=1, ls="--")
            r = correlations[axis]
            ax.set(
                xlabel=f"true RF {name} (px)",
                ylabel=f"readout {name} (px)",
                title=f"{name.title()}: r = {r:.2f}",
            )
            ax.set(xlim=(0, size), ylim=(0, size), aspect="equal")
            ax.grid(alpha=0.3)
    return save_png(figure, path)
