"""Model configuration (frozen, validated, serialisable) and the presets.

Presets: `viv1t-2025` (the published Transformer), `small` and `tiny` (the same design at CPU sizes),
`fcnn` and `ln` (the paper's baselines: factorised 3-D CNN and linear-nonlinear cores, same heads).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from nwb_v1former.config import check_known_keys
from nwb_v1former.errors import ConfigError
from nwb_v1former.grid import FRAME_SHAPE
from nwb_v1former.model.core import CoreConfig
from nwb_v1former.model.cores import core_family
from nwb_v1former.model.fcnn import FCNNConfig
from nwb_v1former.model.ln import LNConfig
from nwb_v1former.model.window import WindowRule


@dataclass(frozen=True)
class HeadConfig:
    """Per-session heads: Gaussian readout with a coordinate MLP, pupil-driven shifter."""

    position_hidden: int = 30
    shifter_hidden: int = 5
    shifter_layers: int = 3


@dataclass(frozen=True)
class ModelConfig:
    """Everything that fixes the model's function; saved in every checkpoint.

    `family` names the core (see model/cores.py) and `core` is that family's config (None: its
    defaults). Checkpoints written before families existed have no `family`: they are ViV1T.
    """

    preset: str = "viv1t-2025"
    family: str = "viv1t"
    core: Any = None
    heads: HeadConfig = dataclasses.field(default_factory=HeadConfig)
    frame_shape: tuple[int, int] = FRAME_SHAPE
    context_ticks: int = 64
    """History before each later piece of a long span (see nwb_v1former.model.window)."""

    def __post_init__(self) -> None:
        expected = core_family(self.family).config
        if self.core is None:
            object.__setattr__(self, "core", expected())
        elif type(self.core) is not expected:
            raise ConfigError(
                f"model.core of family {self.family!r} must be a {expected.__name__}, "
                f"got a {type(self.core).__name__}"
            )
        WindowRule(self.core.max_frames, self.context_ticks)  # refuses a context that leaves no new ticks

    @property
    def window(self) -> WindowRule:
        """The window rule: at most `core.max_frames` ticks per pass, `context_ticks` of history."""
        return WindowRule(self.core.max_frames, self.context_ticks)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["frame_shape"] = list(self.frame_shape)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        """Inverse of `to_dict`; unknown keys anywhere are an error."""
        values = dict(values)
        check_known_keys(cls, values, "model")
        family = values.pop("family", "viv1t")
        core = values.pop("core", {})
        heads = values.pop("heads", {})
        core_config = core_family(family).config
        check_known_keys(core_config, core, "model.core")
        check_known_keys(HeadConfig, heads, "model.heads")
        if "frame_shape" in values:
            values["frame_shape"] = tuple(values["frame_shape"])
        return cls(family=family, core=core_config(**core), heads=HeadConfig(**heads), **values)


PRESETS: dict[str, ModelConfig] = {
    # The published architecture (Li et al. 2025, V-2025): published weights load into it.
    "viv1t-2025": ModelConfig(preset="viv1t-2025"),
    # Same design, sized for CPU training of a few animals.
    "small": ModelConfig(
        preset="small",
        core=CoreConfig(
            emb_dim=64, head_dim=32, ff_dim=128, spatial_depth=3, temporal_depth=3, register_tokens=8
        ),
    ),
    # Same design, for tests and demos: coarser tokens (stride 4 -> 9 x 16 grid), one block each.
    "tiny": ModelConfig(
        preset="tiny",
        core=CoreConfig(
            emb_dim=32,
            head_dim=16,
            ff_dim=64,
            spatial_depth=1,
            temporal_depth=1,
            patch_frames=5,
            patch_size=8,
            patch_stride=4,
            register_tokens=4,
        ),
    ),
    # The paper's baselines, at the V-2025 code's sizes (../shared/docs/VIV1T.md), with the same heads.
    "fcnn": ModelConfig(preset="fcnn", family="fcnn", core=FCNNConfig()),
    "ln": ModelConfig(preset="ln", family="ln", core=LNConfig()),
}


def preset(name: str) -> ModelConfig:
    """A named preset; ConfigError listing the names otherwise."""
    if name not in PRESETS:
        raise ConfigError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
