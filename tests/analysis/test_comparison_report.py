"""compare's figure: the scores' axis says what they are, and rates measured here never share an axis
with the paper's (other hardware)."""

from __future__ import annotations

import numpy as np

from nwb_v1former.analysis.comparison_report import PAPER_LABELS, draw_comparison

PAPER = {"ln": (0.247, 37.2), "fcnn": (0.551, 34.7), "dwiseneuro": (0.660, 0.45), "viv1t": (0.696, 10.41)}


def _table() -> dict:
    models = {
        "viv1t-tiny": {"normalized_correlation": 0.52, "fraction_of_ceiling": 0.42, "trials_per_second": 3.1},
        "ln": {"normalized_correlation": 0.06, "fraction_of_ceiling": 0.15, "trials_per_second": 180.0},
    }
    paper = {k: {"normalized_correlation": c, "trials_per_second": r} for k, (c, r) in PAPER.items()}
    return {"models": models, "paper": paper, "trial_frames": 300, "torch_threads": 2}


def _points(axes) -> np.ndarray:
    return np.concatenate([collection.get_offsets() for collection in axes.collections])


def test_measured_and_published_rates_are_on_separate_labelled_axes():
    table = _table()
    bars, here, paper = draw_comparison(table).get_axes()
    assert bars.get_ylabel() == "score (0-1), mean over sessions" and "repeats" not in bars.get_ylabel()
    assert here.get_xlabel().startswith("trials/s measured here") and "2 torch threads" in here.get_xlabel()
    assert paper.get_xlabel().startswith("trials/s as the paper reports them")
    ours = [(row["trials_per_second"], row["normalized_correlation"]) for row in table["models"].values()]
    np.testing.assert_allclose(_points(here), ours)
    np.testing.assert_allclose(_points(paper), [(r, c) for c, r in PAPER.values()])
    assert sorted(text.get_text() for text in paper.texts) == sorted(PAPER_LABELS.values())
