"""Adding a session: fresh heads that behave like the rest of the model."""

from __future__ import annotations

import numpy as np
import torch

from nwb_v1former.model import V1Former, preset


def test_a_session_added_in_eval_mode_predicts_deterministically():
    torch.manual_seed(0)
    model = V1Former(preset("tiny")).eval()
    model.add_session("m", np.arange(5), np.random.default_rng(0).normal(size=(5, 3)))
    assert not any(module.training for module in model.modules())
    video, behavior = torch.randn(1, 1, 12, 36, 64), torch.randn(1, 2, 12)
    with torch.inference_mode():
        first = model(video, behavior, behavior, session="m")
        second = model(video, behavior, behavior, session="m")
    assert torch.equal(first, second)
    model.train()
    model.add_session("n", np.arange(3), np.random.default_rng(1).normal(size=(3, 3)))
    assert model.readouts["n"].training and model.shifters["n"].training
