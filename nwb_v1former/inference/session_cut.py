"""How `predict` cuts a whole session: trial by trial, as training and evaluation cut each trial.

Each trial is predicted from its own first tick, cut by the window rule, with no history from before
it: the span training windows start at and evaluation scores, so a trial's predictions in the NWB file
are the ones its evaluation scored, and the core's output for it is the one readout fine-tuning cached
(nwb_v1former.train.feature_cache holds every piece of this cut). The ticks outside trials (grey
screens, the session's start and end) are cut by the same rule with the rule's context of history
before them, so none is predicted without history but a trial's own first ticks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nwb_v1former.model.window import Piece, WindowRule


@dataclass(frozen=True)
class Span:
    """Ticks [start, stop) predicted together: a trial (`trial` its index in the store's table; no
    history before `start`) or ticks between trials (`trial` None; history from `history_from` on)."""

    start: int
    stop: int
    history_from: int
    trial: int | None = None

    def pieces(self, rule: WindowRule) -> list[Piece]:
        """The span cut by `rule`."""
        return rule.pieces(self.start, self.stop, history_from=self.history_from)


def session_spans(first_tick: np.ndarray, stop_tick: np.ndarray, n_ticks: int, context: int) -> list[Span]:
    """Spans covering ticks [0, n_ticks) in order: each trial ([first_tick[i], stop_tick[i]), (n,)
    arrays), the ticks between with `context` ticks of history. A trial overlapping the one before it
    continues where that one ends, with history."""
    spans, covered = [], 0
    for index in np.argsort(first_tick, kind="stable"):
        first, stop = int(first_tick[index]), min(int(stop_tick[index]), n_ticks)
        if stop <= covered:
            continue
        if covered < first:
            spans.append(Span(covered, first, max(0, covered - context)))
        if first >= covered:
            spans.append(Span(first, stop, first, int(index)))
        else:
            spans.append(Span(covered, stop, max(0, covered - context)))
        covered = stop
    if covered < n_ticks:
        spans.append(Span(covered, n_ticks, max(0, covered - context)))
    return spans


def whole_session_pieces(
    first_tick: np.ndarray, stop_tick: np.ndarray, n_ticks: int, rule: WindowRule
) -> list[Piece]:
    """Every piece of the session's cut, in order (what the core runs on to predict it all)."""
    spans = session_spans(first_tick, stop_tick, n_ticks, rule.context)
    return [piece for span in spans for piece in span.pieces(rule)]
