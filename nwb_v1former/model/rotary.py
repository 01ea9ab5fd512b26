"""Rotary position embedding with the xPos scale, as ViV1T applies it (half-split rotation).

For position p of a table of n positions (n = 576 spatial patches, or `max_frames` in time):
angle_i = p * 10000^(-2i/d), scale_i = ((2i + 0.4 d) / (1.4 d)) ^ ((p - n // 2) / scale_base), i < d/2,
both repeated over the two halves of the head dimension. Queries AND keys are multiplied by the same
scale (ViV1T's variant; standard xPos divides the keys), so the scale is not relative.

x' = (x cos + rotate_half(x) sin) * scale is computed as x * C + swap_halves(x) * S with
C = cos * scale and S = [-sin, sin] * scale precomputed, and identity rows (C = 1, S = 0) for the
register tokens, so one pass covers the whole sequence without splitting and re-joining it.
"""

from __future__ import annotations

import torch
from torch import nn


class RotaryXPos(nn.Module):
    """Rotates and scales queries and keys of the first `n_rotated` tokens; register tokens are left alone."""

    def __init__(self, head_dim: int, table_size: int, scale_base: float) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.table_size = table_size
        self.scale_base = scale_base
        self._tables: dict[tuple[int, int, torch.device, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}

    def _table(self, n_rotated: int, length: int, device: torch.device, dtype: torch.dtype):
        """C and S, each (length, head_dim), for positions 0..n_rotated-1 centred on table_size // 2.

        Positions beyond the table keep its centre, so a longer sequence extends the same table. Built
        outside inference mode, so tables made during evaluation also serve training.
        """
        key = (n_rotated, length, device, dtype)
        if key not in self._tables:
            with torch.inference_mode(False), torch.no_grad():
                half = torch.arange(0, self.head_dim, 2, dtype=torch.float32, device=device)
                inverse_frequency = 1.0 / (10000 ** (half / self.head_dim))
                base_scale = (half + 0.4 * self.head_dim) / (1.4 * self.head_dim)
                position = torch.arange(n_rotated, dtype=torch.float32, device=device)
                angles = torch.outer(position, inverse_frequency)
                scale = base_scale[None, :] ** ((position - self.table_size // 2) / self.scale_base)[:, None]
                cos, sin = angles.cos() * scale, angles.sin() * scale
                rotation_cos = torch.ones(length, self.head_dim, device=device)
                rotation_sin = torch.zeros(length, self.head_dim, device=device)
                rotation_cos[:n_rotated] = torch.cat((cos, cos), dim=-1)
                rotation_sin[:n_rotated] = torch.cat((-sin, sin), dim=-1)
                self._tables[key] = (rotation_cos.to(dtype), rotation_sin.to(dtype))
        return self._tables[key]

    def forward(self, q: torch.Tensor, k: torch.Tensor, n_rotated: int) -> tuple[torch.Tensor, torch.Tensor]:
        """q, k: (batch, heads, length, head_dim); rotate positions [0, n_rotated), keep the rest."""
        rotation_cos, rotation_sin = self._table(n_rotated, q.shape[-2], q.device, q.dtype)
        half = self.head_dim // 2

        def apply(x: torch.Tensor) -> torch.Tensor:
            return x * rotation_cos + x.roll(half, dims=-1) * rotation_sin

        return apply(q), apply(k)
