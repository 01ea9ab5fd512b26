"""The run report's HTML: the page around the figures, its style, tables and warnings (no files here).

The page has no external CSS, scripts or images; `report` draws the figures and writes the folder.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from nwb_v1former.analysis.report_data import RunRecord
from nwb_v1former.metrics import MIN_EXPLAINABLE

TITLE, COMPARISON_TITLE = "nwb-v1former report: ", "nwb-v1former comparison: "
"""How the <title> of a run's report page and of a comparison's begins: what marks a report as this tool's."""
SUMMARY_COLUMNS = (
    ("single_trial_correlation", "single-trial correlation"),
    ("correlation_to_average", "correlation to average"),
    ("normalized_correlation", "normalised correlation"),
    ("explainable_variance_explained", "FEVE"),
    ("noise_ceiling", "noise ceiling (repeats)"),
)


@dataclass(frozen=True)
class Panel:
    """One figure of the page: its PNG file name, heading and caption (plain text)."""

    file: str
    title: str
    caption: str


@dataclass
class SessionSection:
    """What the page says about one session: its scores row and its figures."""

    key: str
    scores: dict[str, Any]
    true_ceiling: float | None = None
    panels: list[Panel] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.95em; } td, th { padding: 0.3em 0.8em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1.5em 0; } img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.95em; } .warning { background: #fff4e5; padding: 0.6em 1em; }
.alert { background: #fdecea; border: 2px solid #b3261e; border-radius: 4px; padding: 0.4em 1.2em; }
.alert h2 { margin-top: 0.4em; border: none; color: #b3261e; }
"""
FIT_CAVEAT = "From a model that did not learn"
"""How captions of results computed from such a model begin."""


def number(value: Any) -> str:
    """A score with three decimals; None as n/a."""
    return "n/a" if value is None else f"{value:.3f}"


def figure_html(panel: Panel) -> str:
    """A panel as a <figure>: heading, image, caption."""
    return (
        f'<figure><h3>{html.escape(panel.title)}</h3><img src="{html.escape(panel.file)}" '
        f'alt="{html.escape(panel.title)}"><figcaption>{html.escape(panel.caption)}</figcaption></figure>'
    )


def _overview(record: RunRecord) -> str:
    """What was trained, from what, for how long; the simulated-data warning."""
    config = record.config
    provenance = config.provenance
    facts = [
        f"command: {config.command}",
        f"model preset: {config.model.preset}",
        f"strategy: {config.train.strategy}",
        f"base: {provenance.base.name if provenance.base else 'none (trained from scratch)'}",
        f"epochs run: {len(record.metrics)} (best: {record.best_epoch})",
        f"code version: {config.code_version}",
    ]
    items = "".join(f"<li>{html.escape(fact)}</li>" for fact in facts)
    text = f"<ul>{items}</ul>"
    if provenance.trained_on_simulated_data:
        text += (
            '<p class="warning">Trained on SIMULATED data (nwb-v1former\'s ground-truth simulator): these '
            "figures show that the pipeline works, not how real neurons respond.</p>"
        )
    return text


def fit_warning(record: RunRecord) -> str:
    """A box listing why the fit falls short (evaluation.json's fit_check): did not learn, or learned but
    did not converge; nothing when the check found nothing or the run predates it."""
    if not record.fit_problems:
        return ""
    reasons = "".join(f"<li>{html.escape(reason)}</li>" for reason in record.fit_problems)
    if record.learned:
        heading, advice = (
            "This run did not converge",
            "It ended while its validation correlation may still have been rising, so the scores below are "
            "lower than this recipe can reach: continue it with --resume and a larger --max-epochs.",
        )
    else:
        heading, advice = (
            "This model did not learn",
            "Its scores, traces, readout positions and in-silico experiments below describe this model, "
            "not the neurons: train longer or fix the recipe before reading them as results.",
        )
    return f'<div class="alert" role="alert"><h2>{heading}</h2><ul>{reasons}</ul><p>{advice}</p></div>'


def _scores_table(sessions: list[SessionSection]) -> str:
    """One row per session: the held-out tier, trials and mean scores."""
    header = "".join(
        f"<th>{html.escape(h)}</th>"
        for h in ("session", "tier", "trials", *(label for _, label in SUMMARY_COLUMNS), "true noise ceiling")
    )
    rows = []
    for section in sessions:
        cells = [section.key, section.scores["tier"], str(section.scores["trials"])]
        cells += [number(section.scores[name]) for name, _ in SUMMARY_COLUMNS]
        cells.append(number(section.true_ceiling))
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{header}</tr>{''.join(rows)}</table>"


def run_page(
    record: RunRecord, learning: list[Panel], sessions: list[SessionSection], insilico: list[Panel]
) -> str:
    """The run's page: overview, fit warning, learning curves, scores, sessions, in-silico experiments."""
    title = f"{TITLE}{record.folder.name}"
    parts = [f"<h1>{html.escape(title)}</h1>", fit_warning(record), _overview(record)]
    parts += [figure_html(panel) for panel in learning]
    if sessions:
        parts.append("<h2>Held-out scores (best.ckpt)</h2>" + _scores_table(sessions))
        parts.append(
            "<p>Means over neurons. Correlation to average, FEVE (fraction of explainable variance "
            "explained, which unlike correlation counts a wrong amplitude or offset; over neurons with at "
            f"least {MIN_EXPLAINABLE:.0%} explainable variance) and the noise ceiling need repeated stimuli; "
            "the true noise ceiling is known only for simulated sessions.</p>"
        )
    else:
        parts.append(
            "<p>No evaluation yet (evaluation.json and best.ckpt appear when the run finishes); per-neuron "
            "figures follow then.</p>"
        )
    for section in sessions:
        parts.append(f"<h2>Session {html.escape(section.key)}</h2>")
        parts += [f"<p>{html.escape(note)}</p>" for note in section.notes]
        parts += [figure_html(panel) for panel in section.panels]
    if insilico:
        parts.append("<h2>In-silico experiments</h2>")
        if not record.learned:
            parts.append(f'<p class="warning">{html.escape(FIT_CAVEAT)}: see the warning at the top.</p>')
        parts += [figure_html(panel) for panel in insilico]
    return html_document(title, "\n".join(parts))


def html_document(title: str, body: str) -> str:
    """The whole page: `body` (HTML) under the report's style, no external files."""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )
