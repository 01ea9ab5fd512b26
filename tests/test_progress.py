"""The reporter: bars on a terminal, plain timed lines in a log, nothing when quiet."""

from __future__ import annotations

import pytest

from nwb_v1former.errors import ConfigError
from nwb_v1former.progress import Reporter


def test_lines_say_what_how_far_and_the_time_left(capsys: pytest.CaptureFixture) -> None:
    reporter = Reporter("lines", interval_s=0.0)  # a line at every item: as a long step would every minute
    assert list(reporter.loop(range(4), what="epoch 3")) == [0, 1, 2, 3]
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3  # after the first item on (nothing is known before it)
    assert lines[-1].startswith("epoch 3: 3/4 steps (75%)") and "min left" in lines[-1]
    reporter.note("feature cache: done")
    assert capsys.readouterr().err == "feature cache: done\n"


def test_quiet_says_nothing_and_bad_modes_are_refused(capsys: pytest.CaptureFixture) -> None:
    quiet = Reporter("quiet", interval_s=0.0)
    assert list(quiet.loop(iter("abc"), what="x")) == ["a", "b", "c"]
    quiet.note("never shown")
    assert capsys.readouterr().err == ""
    assert Reporter.for_terminal(quiet=True).mode == "quiet"
    assert Reporter.for_terminal().mode == "lines"  # pytest's stderr is not a terminal
    with pytest.raises(ConfigError, match="bars, lines, quiet"):
        Reporter("loud")
