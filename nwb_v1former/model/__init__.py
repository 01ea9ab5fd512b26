"""The ViV1T model and its baselines: cores, per-session heads, presets and checkpoints.

Knows nothing about files' contents.
"""

from nwb_v1former.model.config import PRESETS, CoreConfig, HeadConfig, ModelConfig, preset
from nwb_v1former.model.cores import FAMILIES
from nwb_v1former.model.fcnn import FCNNConfig
from nwb_v1former.model.ln import LNConfig
from nwb_v1former.model.model import SessionInfo, V1Former

__all__ = [
    "FAMILIES",
    "PRESETS",
    "CoreConfig",
    "FCNNConfig",
    "HeadConfig",
    "LNConfig",
    "ModelConfig",
    "SessionInfo",
    "V1Former",
    "preset",
]
