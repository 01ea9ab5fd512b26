"""Process group set-up for `torchrun`: DistributedDataParallel over gloo (CPU) or NCCL (GPU).

Outside torchrun (no WORLD_SIZE in the environment) everything runs in one process, unchanged.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

from nwb_v1former.errors import ConfigError


@dataclass(frozen=True)
class Distributed:
    """This process's place: rank among world_size processes, and the device it trains on."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Only the main process writes files and shows progress."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


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


@contextlib.contextmanager
def distributed(device: str | None = None) -> Iterator[Distributed]:
    """Join the torchrun process group when launched by torchrun; yield this process's place."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    chosen = pick_device(device, local_rank)
    if world_size == 1:
        yield Distributed(0, 1, chosen)
        return
    backend = "nccl" if chosen.type == "cuda" else "gloo"
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    dist.init_process_group(backend)
    try:
        yield Distributed(dist.get_rank(), world_size, chosen)
    finally:
        dist.destroy_process_group()
