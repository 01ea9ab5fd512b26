"""How a long job tells its user what it is doing: one reporter for notes and progress, on stderr.

On a terminal: tqdm bars. Without one (a cluster job writing to a log file): plain lines, one per epoch
and, during a long loop, one at least every LINE_INTERVAL_S seconds saying what, how far and the time
left. Quiet: nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Sized
from dataclasses import dataclass
from typing import TypeVar

from tqdm.auto import tqdm

from nwb_v1former.errors import ConfigError

MODES = ("bars", "lines", "quiet")
LINE_INTERVAL_S = 60.0
Item = TypeVar("Item")


@dataclass(frozen=True)
class Reporter:
    """`mode`: bars (a terminal), lines (a log file) or quiet; `for_terminal` picks bars or lines."""

    mode: str = "lines"
    interval_s: float = LINE_INTERVAL_S

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"progress mode {self.mode!r}: choose one of {', '.join(MODES)}")

    @classmethod
    def for_terminal(cls, *, quiet: bool = False) -> Reporter:
        """Bars when stderr is a terminal, plain lines when it is a file or pipe, nothing when quiet."""
        return cls("quiet" if quiet else "bars" if sys.stderr.isatty() else "lines")

    @property
    def bars(self) -> bool:
        return self.mode == "bars"

    def note(self, line: str) -> None:
        """One line for the user (what was decided, skipped or found), unless quiet."""
        if self.mode == "bars":
            tqdm.write(line, file=sys.stderr)
        elif self.mode == "lines":
            print(line, file=sys.stderr, flush=True)

    def loop(self, items: Iterable[Item], *, what: str, unit: str = "step") -> Iterator[Item]:
        """`items`, reporting how far the loop is: a bar, or a line every `interval_s` seconds."""
        if self.mode == "bars":
            yield from tqdm(items, desc=what, unit=unit, leave=False, file=sys.stderr)
            return
        if self.mode == "quiet":
            yield from items
            return
        total = len(items) if isinstance(items, Sized) else None
        started = last = time.monotonic()
        for done, item in enumerate(items):
            now = time.monotonic()
            if done and now - last >= self.interval_s:
                last = now
                self.note(_how_far(what, unit, done, total, now - started))
            yield item


QUIET = Reporter("quiet")
"""The reporter of library calls that were not asked to tell anything."""


def _how_far(what: str, unit: str, done: int, total: int | None, elapsed: float) -> str:
    """'epoch 3: 120/400 steps (30%), 2.0 min elapsed, about 4.7 min left'."""
    if total is None:
        return f"{what}: {done} {unit}s, {elapsed / 60:.1f} min elapsed"
    left = elapsed / max(done, 1) * (total - done)
    return (
        f"{what}: {done}/{total} {unit}s ({done / max(total, 1):.0%}), {elapsed / 60:.1f} min elapsed, "
        f"about {left / 60:.1f} min left"
    )
