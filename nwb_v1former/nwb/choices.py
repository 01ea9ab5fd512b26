"""The reader's options: what the user decided where a file leaves a choice (which responses, which
stimulus, how unordered images are indexed, how trials get their tiers). Recorded in meta.json and so
in every checkpoint trained on the session, so that `predict` reads the file the way training did."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from nwb_v1former.config import check_known_keys
from nwb_v1former.errors import ConfigError
from nwb_v1former.nwb.frame_sources import IMAGE_ORDERS
from nwb_v1former.nwb.trials import SPLITS


@dataclass(frozen=True)
class ReaderChoices:
    """`responses`: a response series or container (name or path), None for the reader's own choice;
    `stimulus`: the stimulus objects to use (names or paths), empty for every stimulus by place;
    `image_order`: how Images without order_of_images are indexed (frame_sources.IMAGE_ORDERS);
    `split`: how trials get their tiers (trials.SPLITS). None, or empty, where the user chose nothing
    (then "auto", unless `merged` fills it from a recorded choice)."""

    responses: str | None = None
    stimulus: tuple[str, ...] = ()
    image_order: str | None = None
    split: str | None = None

    def __post_init__(self) -> None:
        if self.image_order not in (None, *IMAGE_ORDERS):
            raise ConfigError(f"image order {self.image_order!r}: choose one of {', '.join(IMAGE_ORDERS)}")
        if self.split not in (None, *SPLITS):
            raise ConfigError(f"split {self.split!r}: choose one of {', '.join(SPLITS)}")
        object.__setattr__(self, "stimulus", tuple(self.stimulus))

    @property
    def order_rule(self) -> str:
        """The image order to apply: as chosen, else auto."""
        return self.image_order or "auto"

    @property
    def split_rule(self) -> str:
        """The split to apply: as chosen, else auto."""
        return self.split or "auto"

    def to_dict(self) -> dict[str, Any]:
        """What was applied, as plain data (for meta.json and checkpoints)."""
        values = {**asdict(self), "stimulus": list(self.stimulus)}
        return {**values, "image_order": self.order_rule, "split": self.split_rule}

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> ReaderChoices:
        values = dict(values or {})
        check_known_keys(cls, values, "reader choices")
        return cls(**values)

    def merged(self, other: ReaderChoices) -> ReaderChoices:
        """These choices where made, `other`'s elsewhere (a user's option over a recorded one)."""
        return ReaderChoices(
            responses=self.responses if self.responses is not None else other.responses,
            stimulus=self.stimulus or other.stimulus,
            image_order=self.image_order if self.image_order is not None else other.image_order,
            split=self.split if self.split is not None else other.split,
        )


READER_DEFAULTS = ReaderChoices()
"""The reader's own choices everywhere (no option given)."""
