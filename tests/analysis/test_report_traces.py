"""The report's traces: each chosen neuron is shown on its most active held-out clips, with every axis in
the recording's units and each clip's amplitude-sensitive score beside its correlation."""

from __future__ import annotations

import numpy as np

from nwb_v1former.analysis.report_data import (
    held_out_clips,
    most_active_clips,
    pick_neurons,
    response_unit,
    trace_rows,
)
from nwb_v1former.analysis.report_figures import draw_traces
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.inference.evaluation import tier_trials
from nwb_v1former.metrics import SKIP_FRAMES, explainable_variance_explained, single_trial_correlation


def test_traces_show_each_neuron_on_its_most_active_held_out_clips(fitted_animal):
    store, correlation = fitted_animal.store, fitted_animal.correlation
    chosen = pick_neurons(correlation)
    columns = np.array(list(chosen.values()))
    clips = held_out_clips(fitted_animal.model, store, "test", columns, store.key)
    trials = store.trials
    test = tier_trials(store, "test")
    assert len(clips) == len(set(trials.stimulus_id[test].tolist())) >= 3
    # Activity from the store itself: each clip's mean response over its test showings' scored ticks.
    activity = []
    for clip in clips:
        showings = test[trials.stimulus_id[test] == clip.stimulus_id]
        assert clip.repeats == len(showings) and set(trials.tier[showings]) == {"test"}  # held out only
        ticks = np.concatenate(
            [
                np.arange(trials.first_tick[i] + SKIP_FRAMES, trials.first_tick[i] + len(clip.seconds))
                for i in showings
            ]
        )
        activity.append(np.asarray(store.responses[ticks])[:, columns].mean(axis=0))
    activity = np.array(activity)  # (clips, M)
    rows = trace_rows(clips, chosen, store.roi_ids, correlation, None)
    for row in rows:
        expected = np.argsort(-activity[:, row.neuron])[:2].tolist()
        assert row.clips == most_active_clips(clips, row.neuron) == expected
        assert row.roi_id == store.roi_ids[chosen[row.label]]
    # Each clip's scores are the metrics module's on that clip's showings alone.
    clip, neuron = clips[rows[0].clips[0]], rows[0].neuron
    recorded, predicted = list(clip.recorded[..., [neuron]]), list(clip.predicted[..., [neuron]])
    r, feve = clip.scores(neuron)
    assert r == single_trial_correlation(predicted, recorded)[0]
    assert np.isclose(
        feve, explainable_variance_explained(predicted, recorded, [0] * clip.repeats)[0], equal_nan=True
    )


def test_every_trace_axis_carries_the_recordings_unit_and_each_clip_its_feve(fitted_animal):
    store = fitted_animal.store
    assert response_unit(store) == "\N{GREEK CAPITAL LETTER DELTA}F/F"  # the allen layout writes DfOverF
    chosen = pick_neurons(fitted_animal.correlation)
    clips = held_out_clips(fitted_animal.model, store, "test", np.array(list(chosen.values())), store.key)
    feve = np.full(store.n_neurons, 0.25)
    rows = trace_rows(clips, chosen, store.roi_ids, fitted_animal.correlation, feve)
    figure = draw_traces(clips, rows, response_unit(store), SKIP_FRAMES / TICK_RATE_HZ)
    drawn = [axes for axes in figure.get_axes() if axes.has_data()]
    assert len(drawn) == 2 * len(rows)
    for axes in drawn:
        assert axes.get_ylabel() == "\N{GREEK CAPITAL LETTER DELTA}F/F"
        assert axes.get_xlabel().startswith("seconds")
        assert "FEVE" in axes.get_title() and " r " in axes.get_title()
    titles = [subfigure.get_suptitle() for subfigure in figure.subfigs]
    assert all("FEVE 0.25 over all held-out trials" in title for title in titles)
