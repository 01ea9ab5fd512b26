"""Rotary position embedding with the xPos scale, as ViV1T applies it (half-split rotation).

For position p of a table of n positions (n = 576 spatial patches, or `max_frames` in time):
angle_i = p * 10000^(-2i/d), scale_i = ((2i + 0.4 d) / (1.4 d)) ^ ((p - n // 2) / scale_base), i < d/2,
both repeated over the two halves of the head dimension. Queries AND keys are multiplied by the same
scale (ViV1T's variant; standard xPos divides the keys), so the scale is not relative.
"""

from __future__ import annotations

import torch
from torch import nn


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(..., d) -> (..., d): concat(-x[d/2:], x[:d/2])."""
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


class RotaryXPos(nn.Module):
    """Rotates and scales queries and keys of the first `m` tokens of a sequence; registers are left alone."""

    def __init__(self, head_dim: int, table_size: int, scale_base: float) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.table_size = table_size
        self.scale_base = scale_base
        self._tables: dict[tuple[int, torch.device, torch.dtype], tuple[torch.Tensor, ...]] = {}

    def _table(self, length: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        """cos, sin and scale for positions 0..length-1 (each (length, head_dim)), centred on table_size // 2.

        Positions beyond the table keep its centre, so a longer sequence extends the same table.
        """
        key = (length, device, dtype)
        if key not in self._tables:
            half = torch.arange(0, self.head_dim, 2, dtype=torch.float32, device=device)
            inverse_frequency = 1.0 / (10000 ** (half / self.head_dim))
            scale = (half + 0.4 * self.head_dim) / (1.4 * self.head_dim)
            position = torch.arange(length, dtype=torch.float32, device=device)
            angles = torch.outer(position, inverse_frequency)
            angles = torch.cat((angles, angles), dim=-1)
            power = (position - self.table_size // 2) / self.scale_base
            scales = scale[None, :] ** power[:, None]
            scales = torch.cat((scales, scales), dim=-1)
            self._tables[key] = (angles.cos().to(dtype), angles.sin().to(dtype), scales.to(dtype))
        return self._tables[key]

    def forward(self, q: torch.Tensor, k: torch.Tensor, n_rotated: int) -> tuple[torch.Tensor, torch.Tensor]:
        """q, k: (batch, heads, length, head_dim); rotate positions [0, n_rotated), keep the rest."""
        cos, sin, scale = self._table(n_rotated, q.device, q.dtype)

        def apply(x: torch.Tensor) -> torch.Tensor:
            head, tail = x[..., :n_rotated, :], x[..., n_rotated:, :]
            rotated = (head * cos + rotate_half(head) * sin) * scale
            return torch.cat((rotated, tail), dim=-2) if tail.shape[-2] else rotated

        return apply(q), apply(k)
