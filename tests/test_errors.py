"""Errors keep their place and their problem apart; the message a user reads stays one line."""

from __future__ import annotations

import pickle
from pathlib import Path

from nwb_v1former.errors import ConfigError, MissingDataError, SessionError, V1FormerError


def test_message_names_the_place_when_there_is_one():
    placed = SessionError("no stimulus movie", where=Path("data/a.nwb"))
    assert str(placed) == "data/a.nwb: no stimulus movie"
    assert (placed.where, placed.problem) == ("data/a.nwb", "no stimulus movie")
    bare = ConfigError("choose one of auto, clips")
    assert str(bare) == "choose one of auto, clips" and bare.where is None


def test_at_replaces_the_place_and_keeps_the_type():
    error = MissingDataError("no ROI responses", where="/tmp/store/s1")
    moved = error.at("session.nwb")
    assert type(moved) is MissingDataError
    assert str(moved) == "session.nwb: no ROI responses"
    assert moved.problem == error.problem


def test_within_names_the_holder_once():
    in_file = SessionError("no stimulus", where="a.nwb")
    assert in_file.within(Path("a.nwb")) is in_file
    in_series = MissingDataError("every sample is NaN", where="/acquisition/running")
    held = in_series.within(Path("a.nwb"))
    assert type(held) is MissingDataError
    assert str(held) == "a.nwb: /acquisition/running: every sample is NaN"
    assert held.problem == "/acquisition/running: every sample is NaN"


def test_fields_survive_pickling():
    error = pickle.loads(pickle.dumps(SessionError("truncated", where="a.nwb")))
    assert (type(error), str(error), error.where, error.problem) == (
        SessionError,
        "a.nwb: truncated",
        "a.nwb",
        "truncated",
    )
    assert isinstance(error, V1FormerError)
