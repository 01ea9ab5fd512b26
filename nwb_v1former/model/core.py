"""The ViV1T core: behaviour-as-channels tubelet tokenizer, spatial then causal temporal Transformer."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from nwb_v1former.errors import ConfigError
from nwb_v1former.model.autocast import without_autocast
from nwb_v1former.model.inputs import IN_CHANNELS, stack_inputs
from nwb_v1former.model.transformer import Transformer

TOKENS_PER_GROUP = 4096
"""In CPU inference, each Transformer runs on groups of sequences of about this many tokens (registers
included) through all its blocks, so that one block's activations stay in cache: measured 1.7-1.9x faster
than the whole trial at once (benchmarks/model.py). Sequences are independent: same result.
"""


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


def cover_padding(size: int, patch: int, stride: int) -> tuple[int, int]:
    """Zero padding (before, after) so that patches of `patch` with `stride` cover `size`, floor-first."""
    total = (math.ceil(size / stride) - 1) * stride + patch - size
    return total // 2, total - total // 2


class Tokenizer(nn.Module):
    """(B, 5, T, H, W) -> (B, T, H' * W', emb_dim): causal tubelets, LayerNorm, Linear, LayerNorm.

    Time is padded with `patch_frames - 1` zero frames at the front only, so token t sees frames
    t - patch_frames + 1 .. t and the output has T tokens in time.

    The published layer normalises each raw patch (3185 values per token in the published model) and
    projects it. The patches are never built (2.2 GB for a 300-frame trial): with mu and sigma the
    patch's mean and std, LayerNorm then Linear is exactly
        W (gamma * (p - mu) / sigma + beta) + b = (conv(x; W gamma) - mu * sum(W gamma)) / sigma + W beta + b
    so one strided 3-D convolution and two pooled moments compute it. It runs in float32 even under
    autocast: the subtraction cancels most of the convolution's magnitude.
    """

    def __init__(self, config: CoreConfig, frame_shape: tuple[int, int]) -> None:
        super().__init__()
        self.config = config
        height, width = frame_shape
        self.pad_rows = cover_padding(height, config.patch_size, config.patch_stride)
        self.pad_columns = cover_padding(width, config.patch_size, config.patch_stride)
        self.grid = (
            (height + sum(self.pad_rows) - config.patch_size) // config.patch_stride + 1,
            (width + sum(self.pad_columns) - config.patch_size) // config.patch_stride + 1,
        )
        patch_dim = IN_CHANNELS * config.patch_frames * config.patch_size**2
        self.patch_norm = nn.LayerNorm(patch_dim)
        self.linear = nn.Linear(patch_dim, config.emb_dim)
        self.token_norm = nn.LayerNorm(config.emb_dim)
        self.patch_dropout = nn.Dropout1d(config.patch_dropout)

    def _projected(self, x: torch.Tensor) -> torch.Tensor:
        """Padded (B, C, T + patch_frames - 1, H, W) -> Linear(LayerNorm(patches)) (B, E, T, H', W')."""
        c = self.config
        kernel, stride = (c.patch_frames, c.patch_size, c.patch_size), (1, c.patch_stride, c.patch_stride)
        scaled = self.linear.weight * self.patch_norm.weight  # (E, D): W gamma
        weight = scaled.unflatten(1, (IN_CHANNELS, *kernel))
        projected = F.conv3d(x, weight, stride=stride)
        mean = F.avg_pool3d(x.mean(dim=1, keepdim=True), kernel, stride)
        square = F.avg_pool3d(x.square().mean(dim=1, keepdim=True), kernel, stride)
        inverse_std = torch.rsqrt((square - mean.square()).clamp_min(0) + self.patch_norm.eps)
        offset = self.linear.weight @ self.patch_norm.bias + self.linear.bias  # W beta + b
        centred = projected - mean * scaled.sum(dim=1)[:, None, None, None]
        return centred * inverse_std + offset[:, None, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        with without_autocast(x.device.type):
            x = F.pad(x.float(), (*self.pad_columns, *self.pad_rows, c.patch_frames - 1, 0))
            projected = self._projected(x)  # (B, E, T, H', W')
        tokens = self.token_norm(projected.flatten(3).permute(0, 2, 3, 1))  # (B, T, H'W', E)
        if self.training and c.patch_dropout > 0:  # whole tokens dropped
            tokens = self.patch_dropout(tokens.flatten(1, 2)).unflatten(1, (tokens.shape[1], -1))
        return tokens


class ViViTCore(nn.Module):
    """Shared core: video (B, 1, T, H, W), behaviour (B, 2, T), pupil centre (B, 2, T) -> (B, E, T, H', W').

    Behaviour and pupil centre are broadcast over pixels as 4 extra input channels. Register tokens are
    appended to every spatial (per frame) and temporal (per patch) sequence and dropped afterwards.
    """

    def __init__(self, config: CoreConfig, frame_shape: tuple[int, int]) -> None:
        super().__init__()
        self.config = config
        self.tokenizer = Tokenizer(config, frame_shape)
        self.grid = self.tokenizer.grid
        n_patches = self.grid[0] * self.grid[1]
        self.spatial_registers = nn.Parameter(torch.empty(config.register_tokens, config.emb_dim))
        self.temporal_registers = nn.Parameter(torch.empty(config.register_tokens, config.emb_dim))
        self.spatial = Transformer(config, config.spatial_depth, causal=False, table_size=n_patches)
        self.temporal = Transformer(config, config.temporal_depth, causal=True, table_size=config.max_frames)
        self.gradient_checkpointing = False
        self.tokens_per_group: int | None = TOKENS_PER_GROUP  # None: every sequence at once
        self.reset_parameters()

    def set_gradient_checkpointing(self, enabled: bool) -> None:
        """Recompute the tokenizer and every block in backward instead of storing their activations.

        Same results; the memory of a training step no longer grows with depth x tokens
        (see benchmarks/model.py for the figures).
        """
        self.gradient_checkpointing = enabled
        self.spatial.gradient_checkpointing = enabled
        self.temporal.gradient_checkpointing = enabled

    def cell_centers(self) -> tuple[np.ndarray, np.ndarray]:
        """The pixel (row, column) at the centre of each cell of the output grid: (H',), (W',) float64.

        Cell j of an axis is the patch covering pixels j * stride - pad .. + patch_size - 1.
        """
        size, stride = self.config.patch_size, self.config.patch_stride
        rows = np.arange(self.grid[0]) * stride - self.tokenizer.pad_rows[0] + (size - 1) / 2
        columns = np.arange(self.grid[1]) * stride - self.tokenizer.pad_columns[0] + (size - 1) / 2
        return rows, columns

    def reset_parameters(self) -> None:
        """The published initialisation: truncated normal (std 0.02) weights, zero biases, unit norms."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.trunc_normal_(self.spatial_registers, std=0.02)
        nn.init.trunc_normal_(self.temporal_registers, std=0.02)

    def forward(
        self, video: torch.Tensor, behavior: torch.Tensor, pupil_center: torch.Tensor
    ) -> torch.Tensor:
        inputs = stack_inputs(video, behavior, pupil_center)
        if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
            tokens = checkpoint(self.tokenizer, inputs, use_reentrant=False)
        else:
            tokens = self.tokenizer(inputs)  # (B, T, P, E)
        x = self._in_groups(self.spatial, tokens, self.spatial_registers)  # (B, T, P, E)
        x = self._in_groups(self.temporal, x.transpose(1, 2), self.temporal_registers)  # (B, P, T, E)
        return x.permute(0, 3, 2, 1).unflatten(-1, self.grid)  # (B, E, T, H', W')

    def _in_groups(self, transformer: Transformer, x: torch.Tensor, registers: torch.Tensor) -> torch.Tensor:
        """Run `transformer` on every sequence of x (B, S, L, E) with `registers` (R, E) appended to each
        and dropped after; (B, S, L, E), contiguous. Without autograd on a CPU, groups of sequences of
        about `tokens_per_group` tokens go through the whole stack at once. Otherwise all sequences go at
        once: on a GPU large kernels pay; while weights are captured, each block's are whole; with
        autograd, the activations saved per group interleave with temporaries in glibc's heap and
        fragment it (peak of a checkpointed 300-frame training step 13.7 GB grouped, 4.9 GB whole).
        """
        batch, count, length, _ = x.shape
        sequences = x.flatten(0, 1)  # a view for B = 1; one copy of a transposed x otherwise
        group = len(sequences)
        cpu_inference = x.device.type == "cpu" and not torch.is_grad_enabled()
        if self.tokens_per_group is not None and cpu_inference and not transformer.capturing:
            group = max(1, self.tokens_per_group // (length + len(registers)))
        outputs = []
        for first in range(0, len(sequences), group):
            part = sequences[first : first + group]
            padded = torch.cat((part, registers.expand(len(part), -1, -1)), dim=1)
            outputs.append(transformer(padded, len(registers))[:, :length])
        return torch.cat(outputs).unflatten(0, (batch, count))
