"""The window rule: how many ticks the model sees at once, and how a longer span is cut into pieces.

The temporal Transformer's position table has `max_frames` entries, so one pass sees at most that many
ticks. A longer span (a whole session in predict, a long trial in evaluation) is cut into pieces of at
most `length` ticks: every piece after the first starts `context` ticks early and keeps only its own
ticks, so each prediction sees at least `context` ticks of history (the model is causal: nothing after
a tick changes its prediction). Training windows are at most `length` ticks and start at a trial's
first tick, as the first piece of a span does. The rule is part of the model's config, so every
checkpoint carries it to training, prediction, evaluation, the feature cache and the in-silico analyses.
"""

from __future__ import annotations

from dataclasses import dataclass

from nwb_v1former.errors import ConfigError


@dataclass(frozen=True)
class Piece:
    """Ticks [begin, stop) go through the model; the predictions of [first, stop) are kept."""

    begin: int
    first: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.begin


@dataclass(frozen=True)
class WindowRule:
    """At most `length` ticks per pass; later pieces of a span start `context` ticks early."""

    length: int
    context: int

    def __post_init__(self) -> None:
        if not 0 <= self.context < self.length:
            raise ConfigError(f"window context {self.context} must be in [0, {self.length}) ticks")

    def pieces(self, start: int, stop: int, *, history_from: int | None = None) -> list[Piece]:
        """The pieces covering [start, stop) in order; history never reaches before `history_from`
        (default `start`: the first piece begins at `start`, as a trial's first window does)."""
        floor = start if history_from is None else history_from
        pieces, first = [], start
        while first < stop:
            begin = max(floor, first - self.context)
            last = min(begin + self.length, stop)
            pieces.append(Piece(begin, first, last))
            first = last
        return pieces

    def training_window(self, requested: int | None, shortest_trial: int) -> int:
        """Ticks per training window: as requested (at most `length`), else the shortest training trial
        (at most `length`)."""
        if requested is not None:
            if requested > self.length:
                raise ConfigError(
                    f"--window {requested} is longer than the model's {self.length}-tick window; "
                    f"use at most {self.length}"
                )
            return requested
        return min(self.length, shortest_trial)
