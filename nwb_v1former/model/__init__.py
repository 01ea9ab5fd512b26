"""The ViV1T model: core, per-session heads, presets and checkpoints. Knows nothing about files' contents."""

from nwb_v1former.model.config import PRESETS, CoreConfig, HeadConfig, ModelConfig, preset
from nwb_v1former.model.model import SessionInfo, V1Former

__all__ = ["PRESETS", "CoreConfig", "HeadConfig", "ModelConfig", "SessionInfo", "V1Former", "preset"]
