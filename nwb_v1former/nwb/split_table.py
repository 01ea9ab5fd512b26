"""The session's split into training and held-out trials, as a TimeIntervals table beside the predictions.

An archive reader must know which trials the model learned from to score it fairly: the table holds
every trial the model's data had, on the file's clock, with its tier (train, validation, test, none),
the file's own tier where it had one, and the stimulus it showed; its description names the rule or the
tier column that made the split. pynapple and pynwb read it as any interval table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pynwb.epoch import TimeIntervals

SPLIT_TABLE = "split"
HELD_OUT = ("validation", "test")
"""Tiers the model did not learn from (validation chose its best epoch; test is untouched)."""


@dataclass(frozen=True, eq=False)  # array fields: compare by identity
class Split:
    """The trials of a session: start, stop (n,) float64 s on the file's clock, tier, source_tier and
    stimulus_id (n,) str; `rule` says what assigned the tiers (a tier column, or the split rule and what
    it did), `option` the --split choice it was converted with."""

    start: np.ndarray
    stop: np.ndarray
    tier: np.ndarray
    source_tier: np.ndarray
    stimulus_id: np.ndarray
    rule: str
    option: str

    def to_nwb(self) -> TimeIntervals:
        """The TimeIntervals table `split`, one row per trial in time order."""
        table = TimeIntervals(
            name=SPLIT_TABLE,
            description=(
                f"The trials the model's data were cut into and their tiers ({self.rule}; --split "
                f"{self.option}): the model learned from 'train', chose its best weights on 'validation' "
                "and never saw 'test'; score predictions on the held-out tiers only."
            ),
        )
        table.add_column("tier", "train, validation, test or none (not used).")
        table.add_column("source_tier", "The tier the file itself gave the trial ('' where it gave none).")
        table.add_column(
            "stimulus_id", "A hash of the frames the trial showed: trials with the same id are repeats."
        )
        for row in np.argsort(self.start, kind="stable"):
            table.add_row(
                start_time=float(self.start[row]),
                stop_time=float(self.stop[row]),
                tier=str(self.tier[row]),
                source_tier=str(self.source_tier[row]),
                stimulus_id=str(self.stimulus_id[row]),
            )
        return table
