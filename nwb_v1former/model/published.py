"""Published ViV1T weights (the authors' state_dict layout) -> this package's V1Former.

The authors' keys (bryanlimy/ViV1T-closed-loop, V-2025) are renamed one by one; their constant
buffers (attention scale, rotary tables, regulariser scales, the activation's `one`) are checked
against ours and dropped. An architecture that differs from the `viv1t-2025` preset is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import torch

from nwb_v1former.errors import ConfigError
from nwb_v1former.grid import FRAME_SHAPE
from nwb_v1former.model.config import CoreConfig, ModelConfig, preset
from nwb_v1former.model.model import V1Former

_RENAMES = [
    (r"^core\.tokenizer\.tokenizer\.norm\.", "core.tokenizer.patch_norm."),
    (r"^core\.tokenizer\.tokenizer\.linear\.", "core.tokenizer.linear."),
    (r"^core\.tokenizer\.norm\.", "core.tokenizer.token_norm."),
    (r"^core\.vivit\.reg_s_tokens$", "core.spatial_registers"),
    (r"^core\.vivit\.reg_t_tokens$", "core.temporal_registers"),
    (r"^core\.vivit\.(spatial|temporal)_transformer\.blocks\.(\d+)\.norm\.", r"core.\1.blocks.\2.norm."),
    (
        r"^core\.vivit\.(spatial|temporal)_transformer\.blocks\.(\d+)\.fused_linear\.",
        r"core.\1.blocks.\2.fused.",
    ),
    (
        r"^core\.vivit\.(spatial|temporal)_transformer\.blocks\.(\d+)\.attn_out\.",
        r"core.\1.blocks.\2.attention_out.",
    ),
    (
        r"^core\.vivit\.(spatial|temporal)_transformer\.blocks\.(\d+)\.ff_out\.2\.",
        r"core.\1.blocks.\2.ff_out.",
    ),
    (r"^shifters\.([^.]+)\.mlp\.(\d)\.", r"shifters.\1.mlp.\2."),
    (r"^readouts\.([^.]+)\.mu_transform\.(\d)\.", r"readouts.\1.position.\2."),
    (r"^readouts\.([^.]+)\.source_grid$", r"readouts.\1.grid_source"),
    (r"^readouts\.([^.]+)\.(sigma|features|bias)$", r"readouts.\1.\2"),
]
_CONSTANT_BUFFERS = re.compile(
    r"(\.scale$|\.rotary_position_embedding\.(inv_freq|scale)$|\.reg_scale$|^output_activation\.[^.]+\.one$)"
)
_ARCHITECTURE = {
    "core": "vivit",
    "readout": "gaussian",
    "core_behavior_mode": 2,
    "core_patch_mode": 0,
    "core_pad_frame": 1,
    "core_pos_encoding": 5,
    "core_ff_activation": "relu",
    "core_use_causal_attention": True,
    "core_activation": "none",
    "core_parallel_attention": True,
    "core_norm": "layernorm",
    "core_norm_qk": False,
    "readout_grid_mode": 1,
    "readout_bias_mode": 2,
    "shifter_mode": 1,
    "output_mode": 1,
}


def config_from_authors(args: Mapping[str, object]) -> ModelConfig:
    """Our config for the authors' arguments; ConfigError naming the first argument we cannot honour."""
    for name, expected in _ARCHITECTURE.items():
        if name in args and args[name] != expected:
            raise ConfigError(
                f"checkpoint architecture differs from ViV1T V-2025: {name}={args[name]!r} (expected "
                f"{expected!r}); only the published V-2025 architecture can be imported"
            )
    if args.get("transform_output", 1) != 1:
        raise ConfigError("checkpoint uses transform_output != 1 (sigmoid output); not the published model")
    base = preset("viv1t-2025")
    core = CoreConfig(
        emb_dim=int(args.get("core_emb_dim", 112)),
        num_heads=int(args.get("core_num_heads", 2)),
        head_dim=int(args.get("core_head_dim", 80)),
        ff_dim=int(args.get("core_ff_dim", 224)),
        spatial_depth=int(args.get("core_spatial_depth", 14)),
        temporal_depth=int(args.get("core_temporal_depth", 14)),
        patch_frames=int(args.get("core_temporal_patch_size", 13)),
        patch_size=int(args.get("core_spatial_patch_size", 7)),
        patch_stride=int(args.get("core_spatial_patch_stride", 2)),
        register_tokens=int(args.get("core_reg_tokens", 24)),
        max_frames=int(args.get("max_frame", 300)),
        patch_dropout=float(args.get("core_p_dropout", 0.17)),
        attention_dropout=float(args.get("core_mha_dropout", 0.04)),
        ff_dropout=float(args.get("core_ff_dropout", 0.21)),
        drop_path=float(args.get("core_drop_path", 0.43)),
    )
    if int(args.get("core_temporal_patch_stride", 1)) != 1:
        raise ConfigError("checkpoint uses a temporal patch stride other than 1; not the published model")
    heads = base.heads
    if int(args.get("shifter_layers", 3)) != heads.shifter_layers or int(args.get("shifter_size", 5)) != 5:
        raise ConfigError("checkpoint's shifter is not 3 layers of 5 units; not the published model")
    name = "viv1t-2025" if core == base.core else "viv1t-2025-variant"
    return ModelConfig(
        preset=name, core=core, heads=heads, frame_shape=tuple(args.get("video_shape", FRAME_SHAPE))
    )


def rename(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Authors' keys -> ours; constant buffers dropped; unknown keys are an error."""
    ours: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        key = key.replace("_orig_mod.", "")
        if _CONSTANT_BUFFERS.search(key):
            continue
        for pattern, replacement in _RENAMES:
            if re.search(pattern, key):
                new_key = re.sub(pattern, replacement, key)
                break
        else:
            raise ConfigError(f"checkpoint has an entry this model does not know: {key!r}")
        if new_key.endswith((".sigma", ".features")):
            value = value[0]  # the authors keep a leading singleton axis
        ours[new_key] = value
    return ours


def sessions_in(state_dict: Mapping[str, torch.Tensor]) -> dict[str, int]:
    """Session (mouse) keys and neuron counts found in an authors' state_dict."""
    sizes = {}
    for key, value in state_dict.items():
        match = re.match(r"^readouts\.([^.]+)\.bias$", key)
        if match:
            sizes[match.group(1)] = int(value.shape[0])
    return sizes


def model_from_authors(
    args: Mapping[str, object],
    state_dict: Mapping[str, torch.Tensor],
    sessions: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> V1Former:
    """Build our model from the authors' arguments and weights (every weight mapped, strictly).

    `sessions` may give each mouse's ROI ids and coordinates; otherwise ids are 0..N-1 and the
    coordinates are the checkpoint's own normalised readout grid (x, y, 0).
    """
    model = V1Former(config_from_authors(args))
    renamed = rename(state_dict)
    for key, size in sessions_in(state_dict).items():
        if sessions and key in sessions:
            roi_ids, coordinates = sessions[key]
        else:
            grid = renamed[f"readouts.{key}.grid_source"].numpy()
            roi_ids, coordinates = np.arange(size), np.column_stack([grid, np.zeros(size, np.float32)])
        model.add_session(key, roi_ids, coordinates)
    missing, unexpected = model.load_state_dict(renamed, strict=False)
    if missing or unexpected:
        raise ConfigError(
            f"checkpoint does not match the architecture: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    return model
