"""The numbers of an in-silico result in words: the CLI prints these lines, the report joins them."""

from __future__ import annotations

from typing import Any

from nwb_v1former.analysis.receptive_fields import NEIGHBOURHOOD_RADII


def number(value: float | None, style: str = ".3f") -> str:
    """A figure as text; None (not computable, e.g. no tuned ROI) as n/a."""
    return "n/a" if value is None else format(value, style)


def summary_lines(analysis: str, summary: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """Short sentences stating one result's summary (`analysis`: tuning, receptive_fields or attention)."""
    if analysis == "tuning":
        return _tuning(summary, config)
    if analysis.startswith("mei_"):
        return [
            f"{summary['stimuli']} {summary['kind']}(s) to {summary['direction']} {summary['rois']} ROIs "
            f"(region {summary['region']}, {config['starts']} starts, RMS contrast at most "
            f"{config['contrast']:g} training-video std): median response "
            f"{number(summary['median_response_over_grey'], '.2f')} x grey, median agreement of the starts "
            f"{number(summary['median_start_agreement'], '.2f')}; spectrum shape a median "
            f"{number(summary.get('median_spectral_distance'), '.2f')} from the movies' (their own frames: "
            f"{number(summary.get('movie_frames_spectral_distance'), '.2f')})"
        ]
    if analysis == "closed_loop":
        lines = [
            f"{summary['designed_stimuli']} designed stimuli for {summary['targeted_rois']} ROIs, "
            f"{summary['presentations']} presentations found by content; own stimulus the best recorded of "
            f"its design for {summary['own_stimulus_best_recorded']}"
        ]
        for control, values in summary["controls"].items():
            lines.append(
                f"against {control}: own beats it (one-sided Wilcoxon, BH) for "
                f"{values['own_beats_control_bh']} of {values['pairs']}, recorded own / control median "
                f"{number(values['median_recorded_ratio'], '.2f')} (predicted "
                f"{number(values['median_predicted_ratio'], '.2f')}), median effect size "
                f"{number(values['median_effect_size'], '.2f')}; the model's sign agrees for "
                f"{values['prediction_sign_agrees']}"
            )
        return lines
    if analysis == "controls":
        return [
            f"{summary['rois']} ROIs: best natural clip of {summary['natural_windows']} training windows "
            f"{number(summary['median_natural_over_grey'], '.2f')} x grey, best grating "
            f"{number(summary['median_grating_over_grey'], '.2f')} x grey (medians, predicted)"
        ]
    if analysis == "contextual":
        return [
            f"{summary['rois']} ROIs: median suppression index "
            f"{number(summary['median_suppression_index'], '.2f')}, preferred diameter "
            f"{number(summary['median_preferred_diameter_px'], '.1f')} px; surround over "
            f"centre alone: iso {number(summary['median_iso_modulation'], '.2f')}, cross "
            f"{number(summary['median_cross_modulation'], '.2f')}"
        ]
    if analysis == "receptive_fields":
        return [
            f"{summary['mapped']} of {summary['rois']} ROIs mapped from gradients over {config['clips']} "
            f"noise clips: median half-maximum radius {number(summary['median_radius_px'])} px, median RF "
            f"contrast {number(summary['median_rf_contrast'])} (share of the map within "
            f"{NEIGHBOURHOOD_RADII:g} radii of its centre: 0.79 for a Gaussian RF, under 0.15 for noise)"
        ]
    lines = [
        f"attention summaries over {summary['frames']} frames of {summary['trials']} {config['tier']} trials "
        f"against behaviour, each against {summary['shifts']} circular shifts (p: two-sided, from the "
        "shifts; BH: adjusted by Benjamini-Hochberg over every pair; no p below "
        f"{number(1 / (1 + summary['shifts']), '.2g')} with this many shifts)"
    ]
    for name, behaviors in summary["correlations"].items():
        cells = [
            f"{behavior} r={number(values['r'], '.2f')} (p={number(values['p_value'], '.2g')}, "
            f"BH {number(values.get('p_value_bh'), '.2g')})"  # results written before BH lack it: n/a
            for behavior, values in behaviors.items()
        ]
        lines.append(f"{name}: {', '.join(cells)}")
    return lines


def _tuning(summary: dict[str, Any], config: dict[str, Any]) -> list[str]:
    states = {name: values for name, values in summary.items() if isinstance(values, dict)}
    lines = [
        f"{summary['rois']} ROIs shown drifting gratings ({config['directions']} directions, periods "
        f"{config['periods_px']} px, {config['temporal_hz']} Hz) with behaviour held still and running"
    ]
    for name, values in states.items():
        line = (
            f"{name}: {values['tuned_rois']} of {summary['rois']} ROIs tuned, their median OSI "
            f"{number(values['median_osi'])} and DSI {number(values['median_dsi'])}"
        )
        if "median_modulation_index" in values:
            line += f", running modulation index {number(values['median_modulation_index'])} (all ROIs)"
        lines.append(line)
    first = next(iter(states.values()))
    lines.append(
        f"tuned: a tuning depth ((max - min) / (max + min) over directions) of at least "
        f"{summary['tuned_depth']:g}; median depth {number(first['median_tuning_depth'])}"
    )
    return lines
