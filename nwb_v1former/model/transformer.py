"""Parallel attention + feed-forward blocks (PaLM style), with rotary xPos positions and stochastic depth."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nwb_v1former.model.config import CoreConfig
from nwb_v1former.model.rotary import RotaryXPos


class DropPath(nn.Module):
    """Stochastic depth: in training, zero a whole branch for some rows of the batch (first axis)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)


class ParallelBlock(nn.Module):
    """x + DropPath(attention(LN(x))) + DropPath(feed_forward(LN(x))), one LayerNorm, one fused projection.

    Input and output: (batch, length, emb_dim). The last `registers` tokens are not rotated.
    """

    def __init__(self, config: CoreConfig, *, causal: bool, table_size: int) -> None:
        super().__init__()
        inner = config.num_heads * config.head_dim
        self.num_heads, self.head_dim, self.causal = config.num_heads, config.head_dim, causal
        self.split = (inner, inner, inner, config.ff_dim)
        self.norm = nn.LayerNorm(config.emb_dim)
        self.fused = nn.Linear(config.emb_dim, sum(self.split), bias=False)
        self.rotary = RotaryXPos(config.head_dim, table_size, config.xpos_scale_base)
        self.attention_out = nn.Linear(inner, config.emb_dim, bias=False)
        self.attention_dropout = nn.Dropout(config.attention_dropout)
        self.ff_out = nn.Linear(config.ff_dim, config.emb_dim, bias=False)
        self.ff_dropout = nn.Dropout(config.ff_dropout)
        self.drop_path = DropPath(config.drop_path)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, length, heads * head_dim) -> (batch, heads, length, head_dim)."""
        return x.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)

    def forward(self, x: torch.Tensor, registers: int) -> torch.Tensor:
        q, k, v, f = self.fused(self.norm(x)).split(self.split, dim=-1)
        q, k, v = self._heads(q), self._heads(k), self._heads(v)
        q, k = self.rotary(q, k, x.shape[1] - registers)
        attention = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        attention = self.attention_dropout(self.attention_out(attention.transpose(1, 2).flatten(2)))
        feed_forward = self.ff_out(self.ff_dropout(F.relu(f)))
        return x + self.drop_path(attention) + self.drop_path(feed_forward)


class Transformer(nn.Module):
    """A stack of parallel blocks sharing one attention pattern (causal or not)."""

    def __init__(self, config: CoreConfig, depth: int, *, causal: bool, table_size: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            ParallelBlock(config, causal=causal, table_size=table_size) for _ in range(depth)
        )

    def forward(self, x: torch.Tensor, registers: int) -> torch.Tensor:
        """(batch, length, emb_dim) -> same."""
        for block in self.blocks:
            x = block(x, registers)
        return x
