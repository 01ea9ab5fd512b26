"""One window rule for every pass: pieces of at most the model's window, later ones with history."""

from __future__ import annotations

import pytest

from nwb_v1former.errors import ConfigError
from nwb_v1former.model.config import ModelConfig, preset
from nwb_v1former.model.window import Piece, WindowRule


@pytest.mark.parametrize(("start", "stop"), [(0, 1), (0, 300), (5, 306), (10, 1000), (0, 237)])
def test_pieces_cover_the_span_once_within_the_window_with_history_inside_it(start: int, stop: int) -> None:
    rule = WindowRule(length=300, context=64)
    pieces = rule.pieces(start, stop)
    assert pieces[0] == Piece(start, start, min(start + 300, stop))
    kept = [tick for piece in pieces for tick in range(piece.first, piece.stop)]
    assert kept == list(range(start, stop))  # every tick predicted exactly once, in order
    for piece in pieces:
        assert start <= piece.begin <= piece.first < piece.stop and piece.length <= 300
    for piece in pieces[1:]:
        assert piece.first - piece.begin == 64  # each later piece sees 64 ticks of history


def test_training_window_is_capped_by_the_model() -> None:
    rule = preset("tiny").window
    assert (rule.length, rule.context) == (300, 64)
    assert rule.training_window(None, 450) == 300 and rule.training_window(None, 90) == 90
    assert rule.training_window(60, 450) == 60
    with pytest.raises(ConfigError, match="at most 300"):
        rule.training_window(301, 450)


def test_the_rule_travels_in_the_config_and_refuses_a_context_without_new_ticks() -> None:
    config = preset("tiny")
    assert ModelConfig.from_dict(config.to_dict()).window == config.window
    old = {key: value for key, value in config.to_dict().items() if key != "context_ticks"}
    assert ModelConfig.from_dict(old).window.context == 64  # checkpoints written before the field
    with pytest.raises(ConfigError, match="context"):
        ModelConfig.from_dict({**config.to_dict(), "context_ticks": 300})
