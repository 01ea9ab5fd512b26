"""Attention weights out of the spatial and temporal Transformers, for analysis.

Inside `capture_attention`, blocks compute attention explicitly (softmax(q k^T / sqrt(d)) v, the same
function as the fused kernel) and hand the weights to a sink; outside it they use
`scaled_dot_product_attention` as always.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from nwb_v1former.model.model import V1Former


@dataclass
class AttentionMaps:
    """Per block (in depth order), what `reduce` returned for its weights.

    Unreduced weights are (B*T, heads, P + R, P + R) for spatial blocks and (B*P, heads, T + R, T + R)
    for temporal blocks (P patches, R register tokens, registers last).
    """

    spatial: list[torch.Tensor] = field(default_factory=list)
    temporal: list[torch.Tensor] = field(default_factory=list)


@contextlib.contextmanager
def capture_attention(
    model: V1Former, reduce: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> Iterator[AttentionMaps]:
    """Record every block's attention weights during forward passes inside the block.

    `reduce` shrinks each weight tensor before it is kept (e.g. averaging heads); full spatial maps of
    a 300-frame trial would take gigabytes.
    """
    maps = AttentionMaps()
    stacks = ((model.core.spatial, maps.spatial), (model.core.temporal, maps.temporal))
    for transformer, store in stacks:
        for block in transformer.blocks:
            block.attention_sink = lambda w, s=store: s.append(reduce(w) if reduce else w)
    try:
        yield maps
    finally:
        for transformer, _ in stacks:
            for block in transformer.blocks:
                block.attention_sink = None
