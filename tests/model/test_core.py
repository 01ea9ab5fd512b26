"""In inference the core runs its Transformers on groups of sequences: the same function as all at once."""

from __future__ import annotations

import numpy as np
import torch

from nwb_v1former.model import V1Former, preset


def test_groups_of_sequences_compute_what_one_group_does():
    torch.manual_seed(0)
    model = V1Former(preset("tiny")).eval()
    model.add_session("m", np.arange(5), np.random.default_rng(0).normal(size=(5, 3)))
    generator = torch.Generator().manual_seed(1)
    video = torch.randn(2, 1, 20, 36, 64, generator=generator)
    behavior = torch.randn(2, 2, 20, generator=generator)
    outputs = {}
    for tokens in (600, None):  # 600: 4 of 20 frames or 25 of 144 patches a group, across batch rows
        model.core.tokens_per_group = tokens
        with torch.inference_mode():
            outputs[tokens] = model(video, behavior, behavior, session="m", activate=False)
    torch.testing.assert_close(outputs[600], outputs[None], atol=1e-6, rtol=1e-5)
