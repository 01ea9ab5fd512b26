"""predict's cut of a whole session: trials as training and evaluation cut them, the ticks between with
history, every tick exactly once."""

from __future__ import annotations

import numpy as np

from nwb_v1former.inference.session_cut import Span, session_spans, whole_session_pieces
from nwb_v1former.model.window import Piece, WindowRule

RULE = WindowRule(length=300, context=64)


def test_trials_start_at_their_first_tick_and_gaps_see_what_came_before() -> None:
    first, stop = np.array([100, 220, 900]), np.array([200, 560, 950])
    spans = session_spans(first, stop, 1000, RULE.context)
    assert spans == [
        Span(0, 100, 0),
        Span(100, 200, 100, 0),
        Span(200, 220, 136),
        Span(220, 560, 220, 1),
        Span(560, 900, 496),
        Span(900, 950, 900, 2),
        Span(950, 1000, 886),
    ]
    pieces = whole_session_pieces(first, stop, 1000, RULE)
    kept = np.concatenate([np.arange(piece.first, piece.stop) for piece in pieces])
    np.testing.assert_array_equal(kept, np.arange(1000))  # every tick once, in order
    assert all(piece.length <= RULE.length for piece in pieces)
    # a long trial is cut as evaluation cuts it: from its first tick, later pieces with history inside it
    assert [p for p in pieces if 220 <= p.first < 560] == RULE.pieces(220, 560)
    assert Piece(496, 560, 796) in pieces  # the gap after it: 64 ticks of the trial as history


def test_overlapping_or_unsorted_trials_still_cover_each_tick_once() -> None:
    first, stop = np.array([300, 0, 250]), np.array([400, 280, 320])
    spans = session_spans(first, stop, 450, RULE.context)
    assert spans[0] == Span(0, 280, 0, 1)
    assert spans[1] == Span(280, 320, 216)  # the rest of trial 2, after trial 1 covered its start
    kept = np.concatenate([np.arange(p.first, p.stop) for p in whole_session_pieces(first, stop, 450, RULE)])
    np.testing.assert_array_equal(kept, np.arange(450))
