"""The run report: one HTML page with PNG figures, written into RUN/report/ (or any folder).

```
report/
  index.html                 the page (no external CSS, scripts or images): what was trained, scores per
                             session, every figure with a caption that states its numbers
  learning-curves.png        training loss and validation correlation per epoch, best epoch marked
  correlation-<key>.png      per-neuron single-trial correlation, against the noise ceiling when known
  feve-<key>.png             per-neuron FEVE against single-trial correlation (where repeats allow FEVE)
  traces-<key>.png           recorded vs predicted: best/median/worst neuron, its most active held-out clips
  readout-<key>.png          readout positions over the frame; against the true RF centres when simulated
  insilico-<analysis>.png    figures of the in-silico experiments found in RUN/insilico/ (tuning,
                             receptive fields, attention, size tuning, designed stimuli mei_*, the
                             closed loop), captioned from their JSON results
```
For a folder written by `compare`: index.html with the models' table and comparison.png.
The folder is written atomically: it appears complete, replacing an earlier report, or not at all.
"""

from __future__ import annotations

import dataclasses
import html
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nwb_v1former.analysis import report_figures as figures
from nwb_v1former.analysis.comparison_report import FIGURE as COMPARISON_FIGURE
from nwb_v1former.analysis.comparison_report import (
    comparison_figure,
    comparison_html,
    is_comparison,
    load_comparison,
)
from nwb_v1former.analysis.insilico_text import summary_lines
from nwb_v1former.analysis.report_data import (
    GroundTruth,
    RunRecord,
    ground_truth,
    held_out_clips,
    load_run,
    per_neuron,
    pick_neurons,
    readout_pixels,
    response_unit,
    retinotopy_correlation,
    trace_rows,
)
from nwb_v1former.analysis.report_page import (
    COMPARISON_TITLE,
    FIT_CAVEAT,
    SUMMARY_COLUMNS,
    TITLE,
    Panel,
    SessionSection,
    html_document,
    run_page,
)
from nwb_v1former.atomic import atomic_output, folder_kind, visible_entries
from nwb_v1former.data.store import SessionStore
from nwb_v1former.digest import sha256
from nwb_v1former.errors import OutputExistsError
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.metrics import MIN_EXPLAINABLE, SKIP_FRAMES, mean_over_neurons
from nwb_v1former.model.checkpoint import load_checkpoint
from nwb_v1former.model.model import V1Former
from nwb_v1former.run_folder import BEST, INSILICO, REPORT, RunFolder

INDEX = "index.html"
INSILICO_FIELDS = {"provenance": dict, "summary": dict, "config": dict}
"""What every in-silico result's JSON holds; one without them is damaged."""
INSILICO_TITLES = {
    "tuning": "Drifting-grating tuning",
    "receptive_fields": "Receptive fields",
    "attention": "Attention and behaviour",
    "contextual": "Size tuning and surround",
    "controls": "Controls for designed stimuli (best natural clip, best grating)",
    "closed_loop": "Closed loop: designed stimuli shown",
}


def _holds_only_report(folder: Path) -> bool:
    """index.html titled as ours and PNG figures, nothing else (dot-files aside)."""
    try:
        page = (folder / INDEX).read_text(errors="replace")[:4096] if (folder / INDEX).is_file() else ""
    except OSError:
        return False
    ours = any(f"<title>{title}" in page for title in (TITLE, COMPARISON_TITLE))
    return ours and all(
        entry.name == INDEX or (entry.suffix == ".png" and entry.is_file())
        for entry in visible_entries(folder)
    )


REPORT_FOLDER = folder_kind(
    "a report folder nwb-v1former wrote (index.html and PNG figures)", _holds_only_report
)
"""What `report` replaces: an earlier report nobody added to, or an empty folder; never another folder."""


def write_report(
    run: str | Path, out: str | Path | None = None, *, device: torch.device | str = "cpu"
) -> Path:
    """Write the report of `run` (a pretrain / finetune folder) into `out` (default RUN/report/).

    Returns the path of its index.html. A folder written by `compare` gets the comparison's page (its
    table and figure, nwb_v1former.analysis.comparison_report).

    An existing `out` is replaced only when it is a report this tool wrote (or empty), never another
    folder (REPORT_FOLDER). The held-out clips are predicted on `device` (a training run's own).
    """
    if is_comparison(run):
        return _write(Path(run), out, lambda staging: _comparison_page(Path(run), staging))
    record = load_run(run)

    def draw(staging: Path) -> str:
        panels = _learning_panel(record, staging)
        sessions = _session_sections(record, staging, device)
        insilico = _insilico_panels(record, staging)
        return run_page(record, panels, sessions, insilico)

    return _write(record.folder, out, draw)


def _write(folder: Path, out: str | Path | None, draw: Callable[[Path], str]) -> Path:
    """Into `out` (default FOLDER/report/), atomically: the figures `draw` makes and the page it returns."""
    out = Path(out) if out is not None else folder / REPORT
    if (out.exists() or out.is_symlink()) and not REPORT_FOLDER.recognise(out):  # report has no --overwrite
        raise OutputExistsError(
            f"{out} is not {REPORT_FOLDER.description}, so it is not replaced; choose another --out"
        )
    with atomic_output(out, overwrite=True, kind=REPORT_FOLDER) as staging:
        staging.mkdir(parents=True)
        (staging / INDEX).write_text(draw(staging))
    return out / INDEX


def _comparison_page(folder: Path, staging: Path) -> str:
    table = load_comparison(folder)
    comparison_figure(table, staging / COMPARISON_FIGURE)
    title = f"{COMPARISON_TITLE}{folder.name}"
    return html_document(title, f"<h1>{html.escape(title)}</h1>\n{comparison_html(table)}")


def _learning_panel(record: RunRecord, folder: Path) -> list[Panel]:
    if not record.metrics:
        return []
    name = "learning-curves.png"
    figures.learning_curves(record.metrics, record.best_epoch, folder / name)
    last = record.metrics[-1]
    caption = (
        f"{len(record.metrics)} epochs; best validation correlation "
        f"{max(row['validation_correlation'] for row in record.metrics):.3f} at epoch {record.best_epoch} "
        f"(dashed line: the epoch best.ckpt holds). Last epoch took {last.get('seconds', 0):.0f} s."
    )
    return [Panel(name, "Learning curves", caption)]


def _session_sections(record: RunRecord, folder: Path, device: torch.device | str) -> list[SessionSection]:
    """Every evaluated session's figures (none before evaluation.json exists); predictions on `device`."""
    if record.evaluation is None or not (record.folder / BEST).is_file():
        return []
    model = load_checkpoint(record.folder / BEST).to(device)
    return [
        _session(record, model, key, session, folder)
        for key, session in record.evaluation["sessions"].items()
        if key in model.sessions
    ]


def _session(
    record: RunRecord, model: V1Former, key: str, session: dict[str, Any], folder: Path
) -> SessionSection:
    store = record.store(key)
    truth = None if store is None else ground_truth(store)
    scores = {name: session.get(name) for name, _ in SUMMARY_COLUMNS}
    section = SessionSection(key, {"tier": session["tier"], "trials": session["trials"], **scores})
    correlation = per_neuron(session, "single_trial_correlation")
    if truth is not None:
        ceiling, label = truth.noise_ceiling, "true noise ceiling (simulator)"
        section.true_ceiling = mean_over_neurons(truth.noise_ceiling)
    else:
        ceiling, label = per_neuron(session, "noise_ceiling"), "noise ceiling (from repeats)"
    if correlation is not None and np.isfinite(correlation).any():
        section.panels.append(_correlation_panel(key, correlation, ceiling, label, folder))
        section.panels += _feve_panel(
            key, correlation, per_neuron(session, "explainable_variance_explained"), folder
        )
        if store is None:
            section.notes.append(f"The session's store is gone ({key}); no traces without its responses.")
        else:
            section.panels += _traces_panel(model, key, store, session, correlation, folder)
    readout = _readout_panel(model, key, store, truth, folder)
    section.panels.append(dataclasses.replace(readout, caption=_caveated(record, readout.caption)))
    return section


def _traces_panel(
    model: V1Former,
    key: str,
    store: SessionStore,
    session: dict[str, Any],
    correlation: np.ndarray,
    folder: Path,
) -> list[Panel]:
    """The best, median and worst neuron, each on its two most active held-out clips."""
    chosen = pick_neurons(correlation)
    columns = np.array(list(chosen.values()))
    device = next(model.parameters()).device  # where the report put the model
    clips = held_out_clips(model, store, session["tier"], columns, key, device=device)
    if not clips:
        return []
    name = f"traces-{key}.png"
    feve = per_neuron(session, "explainable_variance_explained")
    rows = trace_rows(clips, chosen, store.roi_ids, correlation, feve)
    figures.traces_figure(clips, rows, response_unit(store), SKIP_FRAMES / TICK_RATE_HZ, folder / name)
    caption = (
        f"The best, median and worst of {np.isfinite(correlation).sum()} neurons by single-trial correlation "
        f"over all {session['trials']} held-out {session['tier']} trials (never trained on), each on the two "
        f"of the {len(clips)} held-out clips where it was most active (highest mean recorded response). Per "
        "clip: single-trial correlation r, blind to scale, and FEVE, the fraction of explainable variance "
        "explained (1: the noise-free response exactly; 0: no better than a constant; below 0: worse, e.g. "
        "a prediction of the right shape at the wrong amplitude; n/a for a clip shown once or whose repeats "
        f"carry under {MIN_EXPLAINABLE:.0%} explainable variance). The first {SKIP_FRAMES} ticks of every "
        "clip are not scored (grey band)."
    )
    return [Panel(name, "Recorded vs predicted, held-out clips", caption)]


def _correlation_panel(
    key: str, correlation: np.ndarray, ceiling: np.ndarray | None, label: str, folder: Path
) -> Panel:
    name = f"correlation-{key}.png"
    known = ceiling is not None and np.isfinite(ceiling).any()
    figures.correlation_figure(correlation, ceiling if known else None, label, folder / name)
    caption = f"Single-trial correlation per neuron: mean {mean_over_neurons(correlation):.3f}."
    if known:
        both = np.isfinite(correlation) & np.isfinite(ceiling)
        ratio = np.mean(correlation[both]) / max(np.mean(ceiling[both]), 1e-8)
        caption += (
            f" {label.capitalize()}: mean {np.mean(ceiling[both]):.3f}, so the model reaches "
            f"{100 * ratio:.0f}% of it on average. Points on the dashed line would be perfect models."
        )
    else:
        caption += " No noise ceiling: the held-out trials repeat no stimulus."
    return Panel(name, "Per-neuron correlation", caption)


def _feve_panel(key: str, correlation: np.ndarray, feve: np.ndarray | None, folder: Path) -> list[Panel]:
    """FEVE against correlation per neuron (none where the evaluation has no FEVE: no repeats, older runs)."""
    if feve is None or not np.isfinite(feve).any():
        return []
    name = f"feve-{key}.png"
    figures.feve_figure(correlation, feve, folder / name)
    defined = feve[np.isfinite(feve)]
    caption = (
        f"FEVE, the fraction of explainable variance explained, of the {len(defined)} neurons whose repeats "
        f"carry at least {MIN_EXPLAINABLE:.0%} explainable variance: median {np.median(defined):.2f}, "
        f"{np.sum(defined < 0)} below 0. Unlike correlation, FEVE counts amplitude and offset: a neuron "
        "high on the correlation axis and low on FEVE is predicted with the right time course at the wrong "
        f"scale or baseline. Values below {figures.FEVE_FLOOR:g} are drawn at it."
    )
    return [Panel(name, "Amplitude: FEVE beside correlation", caption)]


def _readout_panel(
    model: V1Former, key: str, store: SessionStore | None, truth: GroundTruth | None, folder: Path
) -> Panel:
    name = f"readout-{key}.png"
    pixels = readout_pixels(model, key)
    info = model.sessions[key]
    unit = "um" if store is None else str(store.meta.get("coordinate_unit", "um"))
    correlations = None if truth is None else retinotopy_correlation(pixels, truth.rf_center)
    figures.readout_figure(
        pixels,
        info.coordinates,
        unit,
        None if truth is None else truth.rf_center,
        correlations,
        folder / name,
    )
    caption = (
        "Where each neuron's readout samples the core's output, mapped onto the 36 x 64 frame, coloured by "
        "the neuron's position in cortex: a smooth colour gradient is a retinotopic map."
    )
    if correlations is not None:
        caption += (
            f" Against the simulator's true receptive-field centres: r = {correlations[1]:.2f} along the "
            f"frame's columns (azimuth), r = {correlations[0]:.2f} along its rows (elevation)."
        )
    return Panel(name, "Readout positions", caption)


def _insilico_panels(record: RunRecord, folder: Path) -> list[Panel]:
    """A panel per in-silico result in RUN/insilico/ (its figure copied, its summary as the caption)."""
    results = record.folder / INSILICO
    best = record.folder / BEST
    best_digest = sha256(best) if best.is_file() else None
    panels = []
    designed = {path.stem: f"Designed stimuli ({path.stem})" for path in sorted(results.glob("mei_*.json"))}
    for analysis, title in {**INSILICO_TITLES, **designed}.items():
        details_file, figure = results / f"{analysis}.json", results / f"{analysis}.png"
        if not (details_file.is_file() and figure.is_file()):
            continue
        details = RunFolder(results).read_json(details_file.name, INSILICO_FIELDS)
        name = f"insilico-{analysis}.png"
        shutil.copyfile(figure, folder / name)
        origin = details["provenance"]
        digest = str(origin.get("checkpoint_sha256"))
        source = "this run's best.ckpt" if digest == best_digest else "ANOTHER checkpoint than best.ckpt"
        caption = (
            f"{_insilico_caption(analysis, details)} Computed from {source} (sha256 {digest[:12]}), readout "
            f"{origin.get('session')}; full results in {INSILICO}/{analysis}.json and .npz."
        )
        panels.append(Panel(name, title, _caveated(record, caption)))
    return panels


def _caveated(record: RunRecord, caption: str) -> str:
    """`caption`, headed by the fit caveat when the run did not learn (its fit_check says so)."""
    return caption if record.learned else f"{FIT_CAVEAT.upper()}. {caption}"


def _insilico_caption(analysis: str, details: dict[str, Any]) -> str:
    """The numbers of one in-silico result, in words."""
    text = "; ".join(summary_lines(analysis, details["summary"], details["config"]))
    return text[0].upper() + text[1:] + "."
