"""Which device a command runs on: the one asked for, else this process's GPU, else the CPU."""

from __future__ import annotations

import torch

from nwb_v1former.errors import ConfigError


def pick_device(requested: str | None, local_rank: int = 0) -> torch.device:
    """`requested` ("cpu", "cuda", "cuda:1"), else this process's GPU when there is one, else the CPU.

    A device this machine or this torch build does not have is a ConfigError naming what there is.
    """
    if requested:
        return _check_device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def _check_device(requested: str) -> torch.device:
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    available = "cpu" + (f", cuda (cuda:0 to cuda:{gpus - 1})" if gpus else "")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise ConfigError(f"--device {requested}: not a device name; use one of: {available}") from None
    if device.type == "cuda" and not gpus:
        build = "has no CUDA support" if torch.version.cuda is None else "sees no GPU"
        raise ConfigError(f"--device {requested}: this torch build {build}; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= gpus:
        raise ConfigError(f"--device {requested}: this machine has {gpus} GPU(s); use one of: {available}")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(
            f"--device {requested}: {device.type} devices are not supported; use one of: {available}"
        )
    return device
