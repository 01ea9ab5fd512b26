"""The report of a `compare` folder: one figure and one table of the models side by side.

`comparison.png`: left, each model's normalised correlation and fraction of the noise ceiling on the
held-out trials; then accuracy against speed (trials/s, log axis) on two separate axes: as measured by
`compare` here, and as the ViV1T paper reports its Sensorium 2023 models (other hardware, unstated), so
rates from different machines never share an axis. The page itself is assembled by
nwb_v1former.analysis.report.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nwb_v1former.analysis.report_figures import new_figure, save_png
from nwb_v1former.run_folder import RunFolder

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COMPARISON = "comparison.json"
FIGURE = "comparison.png"
COLUMNS = (
    ("normalized_correlation", "normalised correlation", "{:.3f}"),
    ("single_trial_correlation", "single-trial correlation", "{:.3f}"),
    ("correlation_to_average", "correlation to average", "{:.3f}"),
    ("fraction_of_ceiling", "fraction of noise ceiling", "{:.0%}"),
    ("parameters", "parameters", "{:,}"),
    ("training_seconds", "training (s)", "{:.0f}"),
    ("epochs", "epochs", "{}"),
    ("trials_per_second", "trials/s (inference)", "{:.2f}"),
)
PAPER_LABELS = {"ln": "LN", "fcnn": "fCNN", "dwiseneuro": "DwiseNeuro", "viv1t": "ViV1T"}


def is_comparison(folder: str | Path) -> bool:
    """Whether `folder` is what `compare` writes (it holds comparison.json)."""
    return (Path(folder) / COMPARISON).is_file()


COMPARISON_FIELDS = {"settings": dict, "sessions": list, "models": dict}
"""What every comparison.json holds; one without them is damaged."""


def load_comparison(folder: str | Path) -> dict[str, Any]:
    """comparison.json of a compare folder; one line naming it when it is damaged."""
    return RunFolder(folder).read_json(COMPARISON, COMPARISON_FIELDS)


def comparison_figure(table: dict[str, Any], path: Path) -> Path:
    """`draw_comparison` into a PNG at `path`."""
    return save_png(draw_comparison(table), path)


def draw_comparison(table: dict[str, Any]) -> Figure:
    """Scores per model (bars); accuracy vs trials/s as measured here and, on its own axes, as the paper
    reports it."""
    figure = new_figure(14, 4.2)
    bars, here, paper = figure.subplots(1, 3, gridspec_kw={"width_ratios": (1.1, 1, 1)})
    names = list(table["models"])
    x = np.arange(len(names))
    for offset, (metric, label) in enumerate(
        (("normalized_correlation", "normalised correlation"), ("fraction_of_ceiling", "fraction of ceiling"))
    ):
        values = [table["models"][n].get(metric) for n in names]
        heights = [np.nan if v is None else v for v in values]
        bars.bar(x + (offset - 0.5) * 0.38, heights, width=0.38, label=label)
    bars.set_xticks(x, names)
    bars.set(ylabel="score (0-1), mean over sessions", title="Held-out scores", ylim=(0, 1))
    bars.legend(fontsize="small")
    for name in names:
        row = table["models"][name]
        if row.get("normalized_correlation") is not None:
            point = (row["trials_per_second"], row["normalized_correlation"])
            here.scatter(*point, s=60, zorder=3)
            here.annotate(name, point, xytext=(5, 4), textcoords="offset points")
    here.set(
        xlabel=f"trials/s measured here ({table['trial_frames']}-frame trials, {table['torch_threads']} "
        "torch threads)",
        ylabel="normalised correlation (this data)",
        title="Accuracy vs speed: this comparison",
    )
    for key, values in table["paper"].items():
        point = (values["trials_per_second"], values["normalized_correlation"])
        paper.scatter(*point, s=60, facecolors="none", edgecolors="grey")
        paper.annotate(PAPER_LABELS[key], point, xytext=(5, -10), textcoords="offset points", color="grey")
    paper.set(
        xlabel="trials/s as the paper reports them (its hardware, unstated)",
        ylabel="normalised correlation (Sensorium 2023)",
        title="The ViV1T paper's figures",
    )
    for axes in (here, paper):
        axes.set_xscale("log")
        axes.margins(x=0.3)  # room for the names right of the points
        axes.set_ylim(0, 1)
        axes.grid(alpha=0.3, which="both")
    return figure


def _cell(value: Any, form: str) -> str:
    return "n/a" if value is None else form.format(value)


def comparison_html(table: dict[str, Any]) -> str:
    """The page body: the table, what was held equal, the figure with a caption stating its numbers."""
    header = "".join(f"<th>{html.escape(h)}</th>" for h in ("model", "core", *(c[1] for c in COLUMNS)))
    rows = []
    for name, row in table["models"].items():
        cells = [name, row["family"], *(_cell(row.get(key), form) for key, _, form in COLUMNS)]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    settings = table["settings"]
    train = settings["train"]
    budget = (
        f"{settings['budget_minutes']:g} minutes of training each (whole epochs)"
        if settings["budget_minutes"] is not None
        else f"at most {train['max_epochs']} epochs each"
    )
    sessions = ", ".join(f"{s['key']} ({s['neurons']} neurons)" for s in table["sessions"])
    parts = [
        f"<p>Trained from scratch on the same sessions ({html.escape(sessions)}), split and seed "
        f"({train['seed']}), with the same recipe and budget: {html.escape(budget)}, early stop after "
        f"{train['patience']} epochs without a better validation correlation. Scored on the same held-out "
        "trials (test tier, else validation); means over sessions of means over neurons. Trials/s: whole "
        f"{table['trial_frames']}-frame trials one at a time, {table['torch_threads']} torch threads.</p>",
        f"<table><tr>{header}</tr>{''.join(rows)}</table>",
    ]
    if table["trained_on_simulated_data"]:
        parts.append(
            '<p class="warning">Trained on SIMULATED data: the fraction of the noise ceiling uses the '
            "simulator's true ceiling; the ordering says how these model families suit the simulator's "
            "neurons, not real ones.</p>"
        )
    paper = "; ".join(
        f"{PAPER_LABELS[k]} {v['normalized_correlation']:.3f} at {v['trials_per_second']:g} trials/s"
        for k, v in table["paper"].items()
    )
    caption = (
        "Left: normalised correlation and fraction of the noise ceiling per model on the held-out trials. "
        "Middle: normalised correlation against inference speed as measured here (whole "
        f"{table['trial_frames']}-frame trials one at a time on the device that trained them, "
        f"{table['torch_threads']} torch threads). Right, on separate axes: the ViV1T paper's figures on "
        f"Sensorium 2023 ({paper}; its hardware is not stated, a GPU presumably), so neither the speeds nor "
        "the scores compare across the two panels; only each panel's ordering does."
    )
    parts.append(
        f'<figure><h3>Models side by side</h3><img src="{FIGURE}" alt="comparison">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )
    return "\n".join(parts)
