"""What every core sees: the video with behaviour and pupil centre broadcast over pixels as channels."""

from __future__ import annotations

import torch

IN_CHANNELS = 5
"""Video, pupil size, running speed, pupil centre (horizontal, vertical)."""


def stack_inputs(video: torch.Tensor, behavior: torch.Tensor, pupil_center: torch.Tensor) -> torch.Tensor:
    """video (B, 1, T, H, W), behavior and pupil_center (B, 2, T) -> (B, 5, T, H, W) in the video's dtype.

    Behaviour as input channels (the V-2025 design, for every core family): each frame's four values are
    broadcast over all pixels, so the first layer can mix them with the image wherever it looks.
    """
    height, width = video.shape[-2:]
    extra = torch.cat((behavior, pupil_center), dim=1)[..., None, None].expand(-1, -1, -1, height, width)
    return torch.cat((video, extra.to(video.dtype)), dim=1)
