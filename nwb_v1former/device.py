"""Which device a command runs on: the one asked for, else this process's GPU, else the CPU."""

from __future__ import annotations

import torch


def pick_device(requested: str | None, local_rank: int = 0) -> torch.device:
    """`requested` ("cpu", "cuda", "cuda:1"), else this process's GPU when there is one, else the CPU."""
    if requested:
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")
