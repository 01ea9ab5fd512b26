"""Did the run learn? A flag carried by evaluation.json, best.ckpt, the CLI summary, the report and the
predictions' provenance, so a model that did not learn is never shown as if it had.

Two ways a run falls short: its best validation correlation is not above 0 (the model predicts nothing
of the held-out responses), or it ended by its epoch count while the validation correlation was still
improving (its own early-stopping rule never said it was done).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FitCheck:
    """`learned`: the best validation correlation is above 0; `converged`: the run stopped early (its
    patience ran out) rather than by its epoch count; `reasons`: one sentence for each that fails."""

    learned: bool
    converged: bool
    reasons: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.reasons

    def to_dict(self) -> dict[str, Any]:
        return {"learned": self.learned, "converged": self.converged, "reasons": list(self.reasons)}


def check_fit(best_score: float, best_epoch: int, epochs: int, stopped_early: bool) -> FitCheck:
    """The check of a run whose best validation correlation `best_score` came at `best_epoch` of
    `epochs` run; `stopped_early`: ended by its patience rather than by --max-epochs."""
    reasons = []
    learned = math.isfinite(best_score) and best_score > 0
    if not learned:
        reasons.append(
            f"did not learn: the best validation correlation is {best_score:.3f}, not above 0; train longer "
            "(--max-epochs), check the recipe printed at the start, or check the session's responses"
        )
    if not stopped_early:
        reasons.append(
            f"not converged: it ended by --max-epochs ({epochs}) with its best epoch {best_epoch}, so the "
            "validation correlation may still have been improving; continue it with --resume --max-epochs N"
        )
    return FitCheck(learned, stopped_early, tuple(reasons))
