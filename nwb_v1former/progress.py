"""How a long job tells its user what it is doing: one reporter for notes and progress, on stderr.

On a terminal: tqdm bars. Without one (a cluster job writing to a log file): plain lines, each starting
with the date and time, one per epoch and, during a long loop or step, one at least every
LINE_INTERVAL_S seconds saying what, how far and the time left. Quiet: nothing. Under torchrun only the
first process (RANK 0) tells anything, so a log holds each line once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from tqdm.auto import tqdm

from nwb_v1former import __version__
from nwb_v1former.errors import ConfigError

MODES = ("bars", "lines", "quiet")
LINE_INTERVAL_S = 60.0
Item = TypeVar("Item")


def is_main_process() -> bool:
    """Whether this process is torchrun's rank 0 (or not under torchrun at all): the one that talks."""
    return os.environ.get("RANK", "0") == "0"


@dataclass(frozen=True)
class Reporter:
    """`mode`: bars (a terminal), lines (a log file) or quiet; `for_terminal` picks bars or lines.
    `label`: what every line and bar is about, when one command runs several things (compare's models)."""

    mode: str = "lines"
    interval_s: float = LINE_INTERVAL_S
    label: str = ""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"progress mode {self.mode!r}: choose one of {', '.join(MODES)}")

    @classmethod
    def for_terminal(cls, *, quiet: bool = False) -> Reporter:
        """Bars when stderr is a terminal, plain lines when it is a file or pipe, nothing when quiet or
        on a torchrun process other than rank 0."""
        if quiet or not is_main_process():
            return cls("quiet")
        return cls("bars" if sys.stderr.isatty() else "lines")

    @property
    def bars(self) -> bool:
        return self.mode == "bars"

    def labelled(self, label: str) -> Reporter:
        """This reporter, with every line and bar starting '[label] '."""
        return dataclasses.replace(self, label=label)

    def _labelled(self, text: str) -> str:
        return f"[{self.label}] {text}" if self.label else text

    def note(self, line: str) -> None:
        """One line for the user (what was decided, skipped or found), unless quiet; timestamped in a log."""
        if self.mode == "quiet":
            return
        with _Log.lock:
            self._flush_header()
            self._write(self._labelled(line))

    def header(self, command: str, fields: dict[str, object]) -> None:
        """The first lines of a command's log: which command, then what it runs on (one line each).
        They are written with the command's first line or bar, so input refused before any work is
        still the one error line."""
        if self.mode != "quiet":
            lines = [f"nwb-v1former {__version__} {command}", *(f"  {k}: {v}" for k, v in fields.items())]
            _Log.header = lines

    def _flush_header(self) -> None:
        with _Log.lock:
            lines, _Log.header = _Log.header, []
            for line in lines:
                self._write(line)

    def _write(self, text: str) -> None:
        if self.mode == "bars":
            tqdm.write(text, file=sys.stderr)
        elif self.mode == "lines":
            with _Log.lock:
                print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}", file=sys.stderr, flush=True)
                _Log.last = time.monotonic()

    def loop(self, items: Iterable[Item], *, what: str, unit: str = "step") -> Iterator[Item]:
        """`items`, reporting how far the loop is: a bar, or a line at least every `interval_s` seconds
        (also while one item takes longer than that)."""
        if self.mode == "bars":
            self._flush_header()
            yield from tqdm(items, desc=self._labelled(what), unit=unit, leave=False, file=sys.stderr)
            return
        if self.mode == "quiet":
            yield from items
            return
        total = len(items) if isinstance(items, Sized) else None
        started, done = time.monotonic(), 0

        def how_far() -> str:
            return _how_far(what, unit, done, total, time.monotonic() - started)

        with _Ticker(self, how_far) as ticker:
            for done, item in enumerate(items):  # how_far reads `done` too
                if done:
                    ticker.maybe_say()
                yield item

    @contextlib.contextmanager
    def heartbeat(self, what: str) -> Iterator[None]:
        """A line whenever `interval_s` seconds pass without one while the block runs (in a log): wrapped
        round a whole command, no stretch of it is silent ('convert: still working, 3.0 min elapsed');
        a loop inside it reports how far it is instead. A header not written by its end (the command
        was refused before any work) is dropped with it."""
        try:
            if self.mode != "lines":
                yield
                return
            started = time.monotonic()
            with _Ticker(
                self, lambda: f"{what}: still working, {_minutes(time.monotonic() - started)} elapsed"
            ):
                yield
        finally:
            _Log.header = []


QUIET = Reporter("quiet")
"""The reporter of library calls that were not asked to tell anything."""


class _Log:
    """The log's clock, shared by every reporter of the process: when it last had a line, and which
    ticker speaks for a silent stretch (the innermost: a loop's 'how far' before its command's 'still
    working')."""

    lock = threading.RLock()
    last = time.monotonic()
    tickers: ClassVar[list[_Ticker]] = []
    header: ClassVar[list[str]] = []  # a command's header, until its first line


class _Ticker:
    """Says `describe()` when `interval_s` has passed without any line: on `maybe_say()` (between a
    loop's items) and from a daemon thread (while one item or step runs long)."""

    def __init__(self, reporter: Reporter, describe: Callable[[], str]) -> None:
        self.reporter, self.describe = reporter, describe
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="progress-heartbeat")

    def __enter__(self) -> _Ticker:
        with _Log.lock:
            _Log.last = time.monotonic()  # the stretch starts now
            _Log.tickers.append(self)
        if self.reporter.interval_s > 0:
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()
        with _Log.lock:
            _Log.tickers.remove(self)

    def maybe_say(self) -> None:
        with _Log.lock:
            if _Log.tickers[-1] is self and time.monotonic() - _Log.last >= self.reporter.interval_s:
                self.reporter.note(self.describe())

    def _run(self) -> None:
        while not self.stop.wait(max(_Log.last + self.reporter.interval_s - time.monotonic(), 0.01)):
            self.maybe_say()


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def _how_far(what: str, unit: str, done: int, total: int | None, elapsed: float) -> str:
    """'epoch 3: 120/400 steps (30%), 2.0 min elapsed, about 4.7 min left' (no estimate before the first
    item is done: nothing is known of its rate then)."""
    if total is None:
        return f"{what}: {done} {unit}s, {_minutes(elapsed)} elapsed"
    line = f"{what}: {done}/{total} {unit}s ({done / max(total, 1):.0%}), {_minutes(elapsed)} elapsed"
    if done:
        line += f", about {_minutes(elapsed / done * (total - done))} left"
    return line
