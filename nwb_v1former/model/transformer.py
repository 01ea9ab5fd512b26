"""Parallel attention + feed-forward blocks (PaLM style), with rotary xPos positions and stochastic depth."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from nwb_v1former.model.rotary import RotaryXPos

if TYPE_CHECKING:  # core.py builds Transformers from its config: imported for annotations only
    from nwb_v1former.model.core import CoreConfig


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
        self.attention_sink: Callable[[torch.Tensor], None] | None = None

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, length, heads * head_dim) -> (batch, heads, length, head_dim)."""
        return x.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)

    def _explicit_attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """softmax(q k^T / sqrt(d)) v with the weights (batch, heads, L, L) handed to `attention_sink`."""
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)
        if self.causal:
            length = scores.shape[-1]
            mask = torch.ones(length, length, dtype=torch.bool, device=scores.device).triu(1)
            scores = scores.masked_fill(mask, float("-inf"))
        weights = scores.softmax(dim=-1)
        self.attention_sink(weights.detach())
        return weights @ v

    def forward(self, x: torch.Tensor, registers: int) -> torch.Tensor:
        q, k, v, f = self.fused(self.norm(x)).split(self.split, dim=-1)
        q, k, v = self._heads(q), self._heads(k), self._heads(v)
        q, k = self.rotary(q, k, x.shape[1] - registers)
        if self.attention_sink is None:
            attention = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        else:
            attention = self._explicit_attention(q, k, v)
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
        self.gradient_checkpointing = False

    @property
    def capturing(self) -> bool:
        """Whether some block hands its attention weights to a sink (see model.attention)."""
        return any(block.attention_sink is not None for block in self.blocks)

    def forward(self, x: torch.Tensor, registers: int) -> torch.Tensor:
        """(batch, length, emb_dim) -> same. With gradient checkpointing, training keeps only block inputs
        and recomputes each block during backward (same random numbers), trading time for memory."""
        for block in self.blocks:
            if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
                x = checkpoint(block, x, registers, use_reentrant=False)
            else:
                x = block(x, registers)
        return x
