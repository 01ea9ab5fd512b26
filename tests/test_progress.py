"""The reporter: bars on a terminal, plain timed lines in a log, nothing when quiet or off rank 0."""

from __future__ import annotations

import re
import time

import pytest

from nwb_v1former.errors import ConfigError
from nwb_v1former.progress import Reporter

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "
"""Every line of a log starts with the date and time."""


def test_lines_say_what_how_far_and_the_time_left(capsys: pytest.CaptureFixture) -> None:
    reporter = Reporter("lines", interval_s=0.0)  # a line at every item: as a long step would every minute
    assert list(reporter.loop(range(4), what="epoch 3")) == [0, 1, 2, 3]
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3  # after the first item on (nothing is known before it)
    assert re.fullmatch(
        STAMP + r"epoch 3: 3/4 steps \(75%\), 0\.0 min elapsed, about 0\.0 min left", lines[-1]
    )
    reporter.note("feature cache: done")
    assert re.fullmatch(STAMP + "feature cache: done\n", capsys.readouterr().err)


def test_a_long_item_or_step_still_gets_its_line(capsys: pytest.CaptureFixture) -> None:
    """A step longer than the interval (the first, or a long conversion) is not a silent minute."""
    reporter = Reporter("lines", interval_s=0.05)
    for _ in reporter.loop(range(1), what="core pass", unit="piece"):
        time.sleep(0.3)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 2 and all(re.match(STAMP + r"core pass: 0/1 pieces \(0%\)", line) for line in lines)
    assert not any("left" in line for line in lines)  # no rate is known before the first piece is done
    with reporter.heartbeat("converting x.nwb"):
        time.sleep(0.3)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 2 and all(re.match(STAMP + "converting x.nwb: still working, ", x) for x in lines)
    time.sleep(0.15)
    assert capsys.readouterr().err == ""  # the heartbeat ends with its block


def test_the_innermost_speaks_and_any_line_resets_the_clock(capsys: pytest.CaptureFixture) -> None:
    """Round a whole command, the heartbeat gives way to a loop's 'how far' and to the command's lines."""
    reporter = Reporter("lines", interval_s=0.1)
    with reporter.heartbeat("finetune"):
        for _ in reporter.loop(range(1), what="epoch 0"):
            time.sleep(0.35)
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) >= 2 and all("epoch 0: 0/1 steps" in line for line in lines)
        for _ in range(5):  # a line every 0.05 s: the heartbeat has nothing to add
            reporter.note("working")
            time.sleep(0.05)
        assert all(line.endswith(" working") for line in capsys.readouterr().err.splitlines())
        time.sleep(0.3)
    assert "finetune: still working" in capsys.readouterr().err


def test_header_names_the_command_then_one_line_per_field(capsys: pytest.CaptureFixture) -> None:
    reporter = Reporter("lines")
    reporter.header("finetune", {"base": "tiny-sim", "processes": 2})
    assert capsys.readouterr().err == ""  # input refused before any work stays one error line
    reporter.note("recipe: ...")
    lines = capsys.readouterr().err.splitlines()
    assert [re.sub(STAMP, "", line) for line in lines][1:] == [
        "  base: tiny-sim",
        "  processes: 2",
        "recipe: ...",
    ]
    assert re.fullmatch(STAMP + r"nwb-v1former \S+ finetune", lines[0])
    reporter.note("epoch 0")
    assert re.fullmatch(STAMP + "epoch 0\n", capsys.readouterr().err)  # once
    with reporter.heartbeat("finetune"):
        reporter.header("finetune", {"base": "x"})  # then refused before any work
    reporter.note("next command")
    assert re.fullmatch(STAMP + "next command\n", capsys.readouterr().err)


def test_quiet_says_nothing_and_bad_modes_are_refused(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet = Reporter("quiet", interval_s=0.0)
    assert list(quiet.loop(iter("abc"), what="x")) == ["a", "b", "c"]
    quiet.note("never shown")
    with quiet.heartbeat("x"):
        pass
    assert capsys.readouterr().err == ""
    assert Reporter.for_terminal(quiet=True).mode == "quiet"
    assert Reporter.for_terminal().mode == "lines"  # pytest's stderr is not a terminal
    monkeypatch.setenv("RANK", "1")  # a torchrun process other than the first says nothing
    assert Reporter.for_terminal().mode == "quiet"
    with pytest.raises(ConfigError, match="bars, lines, quiet"):
        Reporter("loud")
