"""Figures of the in-silico experiments (PNG, Agg renderer, matplotlib imported on use), for the report.

Drawn with the report's figure helpers, so both look alike and neither touches pyplot state.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nwb_v1former.analysis.attention import BEHAVIORS, SUMMARIES, AttentionResult, relative_to_time_course
from nwb_v1former.analysis.receptive_fields import ReceptiveFieldResult
from nwb_v1former.analysis.report_figures import CEILING, PREDICTED, RECORDED, new_figure, save_png
from nwb_v1former.analysis.tuning import TUNED_DEPTH, TuningResult
from nwb_v1former.grid import FRAME_HEIGHT, FRAME_WIDTH, TICK_RATE_HZ

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STATE_COLORS = (RECORDED, PREDICTED, CEILING, "#7570b3")
EXAMPLES = 3
TRAINED_UNITS = "recorded units"
"""What a predicted response is measured in: the model predicts responses as its training data held them."""


def _ranked(score: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` highest finite scores, best first."""
    finite = np.flatnonzero(np.isfinite(score))
    return finite[np.argsort(score[finite])[::-1][:count]]


def tuning_figure(result: TuningResult, path: Path) -> Path:
    """Direction tuning of the most deeply tuned ROIs per state, the OSI distributions, and the preferred
    grating's response in the second state against the first."""
    figure = new_figure(13, 3.6)
    curve_axes, osi_axes, peak_axes = figure.subplots(1, 3)
    directions = result.config.directions_deg
    neurons = np.arange(len(result.roi_ids))
    period = np.searchsorted(result.config.periods_px, result.preferred_period_px)
    frequency = np.searchsorted(result.config.temporal_hz, result.preferred_temporal_hz)
    examples = _ranked(result.depth[0], EXAMPLES)
    for rank, column in enumerate(examples):
        for index, state in enumerate(result.states):
            curve = result.responses[index, :, period[column], frequency[column], column]
            curve_axes.plot(
                np.append(directions, 360),
                np.append(curve, curve[0]),
                color=STATE_COLORS[index % len(STATE_COLORS)],
                ls=("-", "--", ":")[rank % 3],
                label=f"ROI {result.roi_ids[column]} ({state.name}, depth {result.depth[index, column]:.2f})",
            )
    curve_axes.set(
        xlabel="direction of motion (deg)",
        ylabel=f"predicted response ({TRAINED_UNITS})",
        xticks=range(0, 361, 90),
    )
    curve_axes.set_title("Most deeply tuned ROIs", fontsize="medium")
    curve_axes.legend(fontsize="x-small")
    bins = np.linspace(0, 1, 21)
    tuned = result.tuned
    for index, state in enumerate(result.states):
        values = result.osi[index][tuned[index]]
        label = f"{state.name} ({tuned[index].sum()} tuned)"
        osi_axes.hist(values, bins=bins, histtype="step", lw=1.5, color=STATE_COLORS[index], label=label)
    title = f"OSI of tuned ROIs (depth >= {TUNED_DEPTH:g}) of {len(neurons)}"
    osi_axes.set(xlabel="global OSI", ylabel="ROIs", title=title, xlim=(0, 1))
    if tuned.any():
        osi_axes.legend(fontsize="small")
    else:
        osi_axes.text(0.5, 0.5, "no tuned ROI", ha="center", va="center", transform=osi_axes.transAxes)
    if len(result.states) > 1:
        peaks = result.peak_response
        peak_axes.scatter(peaks[0], peaks[1], s=8, alpha=0.6, color=PREDICTED)
        limit = [np.nanmin(peaks), np.nanmax(peaks)]
        peak_axes.plot(limit, limit, color=RECORDED, lw=1, ls="--")
        peak_axes.set(
            xlabel=f"peak response, {result.states[0].name} ({TRAINED_UNITS})",
            ylabel=f"peak response, {result.states[1].name} ({TRAINED_UNITS})",
            title="Effect of behaviour on the preferred grating",
        )
    else:
        peak_axes.set_axis_off()
    for axes in (curve_axes, osi_axes, peak_axes):
        axes.grid(alpha=0.3)
    return save_png(figure, path)


def receptive_field_figure(result: ReceptiveFieldResult, path: Path) -> Path:
    """`draw_receptive_fields` into a PNG at `path`."""
    return save_png(draw_receptive_fields(result), path)


def draw_receptive_fields(result: ReceptiveFieldResult) -> Figure:
    """The clearest sensitivity maps (each scaled to its peak, one colour bar) with centre and half-maximum
    circle, and every RF centre and radius on the frame; axes in pixels of the 36 x 64 model frame."""
    examples = _ranked(result.contrast, 6)
    figure = new_figure(13, 4.6)
    grid = figure.add_gridspec(2, 5)
    image = None
    for rank, column in enumerate(examples):
        axes = figure.add_subplot(grid[rank // 3, rank % 3])
        peak = result.maps[column].max()
        image = axes.imshow(result.maps[column] / peak, cmap="magma", origin="upper", vmin=0, vmax=1)
        center = result.center[column, ::-1]
        axes.plot(*center, "c+", ms=10)
        axes.add_patch(_circle(center, result.radius_px[column], color="c", fill=False, lw=0.8))
        axes.set_title(
            f"ROI {result.roi_ids[column]}: contrast {result.contrast[column]:.2f}", fontsize="small"
        )
        axes.set(xlim=(-0.5, FRAME_WIDTH - 0.5), ylim=(FRAME_HEIGHT - 0.5, -0.5))
        axes.set_xticks([0, 20, 40, 60])
        axes.set_yticks([0, 15, 30])
        axes.tick_params(labelsize="x-small")
        if rank % 3 == 0:
            axes.set_ylabel("row (px)", fontsize="small")
        if rank // 3 == 1:
            axes.set_xlabel("column (px)", fontsize="small")
    if image is not None:
        figure.colorbar(
            image,
            ax=figure.axes,
            location="left",
            shrink=0.7,
            label="sensitivity (fraction of the ROI's peak)",
        )
    overview = figure.add_subplot(grid[:, 3:])
    mapped = np.isfinite(result.radius_px)
    points = overview.scatter(
        result.center[mapped, 1],
        result.center[mapped, 0],
        s=12,
        c=result.contrast[mapped],
        cmap="viridis",
        vmin=0,
        vmax=1,
        zorder=3,
    )
    for (row, column), radius in zip(result.center[mapped], result.radius_px[mapped], strict=True):
        overview.add_patch(_circle((column, row), radius, color=PREDICTED, fill=False, alpha=0.25, lw=0.8))
    overview.set(
        xlim=(-0.5, FRAME_WIDTH - 0.5),
        ylim=(FRAME_HEIGHT - 0.5, -0.5),
        aspect="equal",
        xlabel=f"column (pixels of the {FRAME_HEIGHT} x {FRAME_WIDTH} frame)",
        ylabel="row (pixels)",
        title=f"RF centres and half-maximum radii ({mapped.sum()} ROIs)",
    )
    figure.colorbar(points, ax=overview, shrink=0.7, label="RF contrast (share of map near centre)")
    overview.grid(alpha=0.3)
    return figure


def _circle(center: tuple[float, float], radius: float, **style):
    from matplotlib.patches import Circle

    return Circle(center, radius, **style)


def _claims(result: AttentionResult) -> list[tuple[str, str]]:
    """The pairs the ViV1T claims are about, each the strongest of its kind: a spatial summary against
    pupil position, a temporal summary against running speed."""
    names, behaviors = list(SUMMARIES), list(BEHAVIORS)
    pairs = []
    for prefix, wanted in (("spatial", ("pupil_x", "pupil_y")), ("temporal", ("running_speed",))):
        candidates = [
            (abs(result.r[i, j]), names[i], behaviors[j])
            for i in range(len(names))
            for j in range(len(behaviors))
            if names[i].startswith(prefix) and behaviors[j] in wanted and np.isfinite(result.r[i, j])
        ]
        if candidates:
            pairs.append(max(candidates)[1:])
    return pairs


def attention_figure(result: AttentionResult, path: Path) -> Path:
    """`draw_attention` into a PNG at `path`."""
    return save_png(draw_attention(result), path)


def draw_attention(result: AttentionResult) -> Figure:
    """Correlations of attention summaries with behaviour (significant after Benjamini-Hochberg starred)
    against their shuffle band, and the strongest spatial-pupil and temporal-running pairs over time
    (summaries without their mean time course over trials, as correlated), a line per trial."""
    figure = new_figure(13, 4.8)
    grid = figure.add_gridspec(2, 2, width_ratios=(1, 1.5))
    matrix_axes = figure.add_subplot(grid[:, 0])
    image = matrix_axes.imshow(result.r, cmap="RdBu_r", vmin=-1, vmax=1)
    for i in range(len(SUMMARIES)):
        for j in range(len(BEHAVIORS)):
            if np.isfinite(result.r[i, j]):
                marker = "*" if result.p_adjusted[i, j] < 0.05 else ""
                text = f"{result.r[i, j]:.2f}{marker}\n±{result.null_abs_95[i, j]:.2f}"
                matrix_axes.text(j, i, text, ha="center", va="center", fontsize="x-small")
    matrix_axes.set_xticks(range(len(BEHAVIORS)), list(BEHAVIORS), rotation=30, ha="right", fontsize="small")
    matrix_axes.set_yticks(range(len(SUMMARIES)), list(SUMMARIES), fontsize="small")
    tests = int(np.isfinite(result.p_value).sum())
    matrix_axes.set_title(
        f"r (* BH-adjusted p < 0.05 over {tests} tests;\n± 95% of |r| over {result.shifts} shifts)",
        fontsize="medium",
    )
    figure.colorbar(image, ax=matrix_axes, shrink=0.8, label="Pearson r, attention summary vs behaviour")
    boundaries = np.flatnonzero(np.diff(result.frames["trial"])) + 1  # first frame of each later trial
    seconds = np.arange(len(result.frames["tick"])) / TICK_RATE_HZ
    for row, (summary, behavior) in enumerate(_claims(result)):
        axes = figure.add_subplot(grid[row, 1])
        detrended = relative_to_time_course(result.frames[summary], result.frames["position"])
        for values, color, label in (
            (detrended, PREDICTED, f"{summary} (minus its mean time course)"),
            (result.frames[behavior], RECORDED, behavior),
        ):
            z = (values - values.mean()) / (values.std() or 1.0)
            gaps = np.insert(z, boundaries, np.nan)  # a NaN between trials breaks the line there
            axes.plot(np.insert(seconds, boundaries, np.nan), gaps, color=color, lw=0.8, label=label)
        for boundary in seconds[boundaries]:
            axes.axvline(boundary, color="#999999", lw=0.6, ls=":")
        axes.set(
            xlabel=f"seconds of analysed frames, {result.n_trials} {result.config.tier} trials end to end "
            "(dotted: trial boundaries)",
            ylabel="z-score (SD)",
        )
        axes.legend(fontsize="x-small", ncols=2, loc="lower left", bbox_to_anchor=(0, 1), frameon=False)
        axes.grid(alpha=0.3)
    return figure
