"""Model configuration (frozen, validated, serialisable) and the presets `viv1t-2025`, `small`, `tiny`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from nwb_v1former.config import check_known_keys
from nwb_v1former.errors import ConfigError
from nwb_v1former.grid import FRAME_SHAPE
from nwb_v1former.model.window import WindowRule


@dataclass(frozen=True)
class CoreConfig:
    """The shared spatiotemporal Transformer core (ViV1T V-2025 design).

    Tubelets of `patch_frames` x `patch_size`^2 pixels (stride 1 in time, `patch_stride` in space) over
    5 channels (video + 2 behaviour + 2 pupil centre); `depth_*` parallel attention/feed-forward blocks.
    """

    emb_dim: int = 112
    num_heads: int = 2
    head_dim: int = 80
    ff_dim: int = 224
    spatial_depth: int = 14
    temporal_depth: int = 14
    patch_frames: int = 13
    patch_size: int = 7
    patch_stride: int = 2
    register_tokens: int = 24
    max_frames: int = 300
    xpos_scale_base: float = 512.0
    patch_dropout: float = 0.17
    attention_dropout: float = 0.04
    ff_dropout: float = 0.21
    drop_path: float = 0.43

    def __post_init__(self) -> None:
        positive = (
            "emb_dim",
            "num_heads",
            "head_dim",
            "ff_dim",
            "patch_frames",
            "patch_size",
            "patch_stride",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"core.{name} must be at least 1")
        if self.head_dim % 2:
            raise ConfigError("core.head_dim must be even (rotary embeddings rotate pairs)")
        for name in ("spatial_depth", "temporal_depth", "register_tokens"):
            if getattr(self, name) < 0:
                raise ConfigError(f"core.{name} must be non-negative")
        for name in ("patch_dropout", "attention_dropout", "ff_dropout", "drop_path"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"core.{name} must be in [0, 1)")


@dataclass(frozen=True)
class HeadConfig:
    """Per-session heads: Gaussian readout with a coordinate MLP, pupil-driven shifter."""

    position_hidden: int = 30
    shifter_hidden: int = 5
    shifter_layers: int = 3


@dataclass(frozen=True)
class ModelConfig:
    """Everything that fixes the model's function; saved in every checkpoint."""

    preset: str = "viv1t-2025"
    core: CoreConfig = dataclasses.field(default_factory=CoreConfig)
    heads: HeadConfig = dataclasses.field(default_factory=HeadConfig)
    frame_shape: tuple[int, int] = FRAME_SHAPE
    context_ticks: int = 64
    """History before each later piece of a long span (see nwb_v1former.model.window)."""

    def __post_init__(self) -> None:
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
        core = values.pop("core", {})
        heads = values.pop("heads", {})
        check_known_keys(CoreConfig, core, "model.core")
        check_known_keys(HeadConfig, heads, "model.heads")
        if "frame_shape" in values:
            values["frame_shape"] = tuple(values["frame_shape"])
        return cls(core=CoreConfig(**core), heads=HeadConfig(**heads), **values)


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
}


def preset(name: str) -> ModelConfig:
    """A named preset; ConfigError listing the names otherwise."""
    if name not in PRESETS:
        raise ConfigError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
