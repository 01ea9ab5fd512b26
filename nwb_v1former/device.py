"""Which device a command runs on, and what float32 means there.

One rule for every command, and under torchrun for every process (`place`, a pure function of what was
asked, the process's place among torchrun's and what the machine has):

- nothing asked: this process's GPU (CUDA, cuda:LOCAL_RANK), else Apple's GPU (MPS) outside torchrun,
  else the CPU;
- `cuda`: outside torchrun cuda:0 (on a machine with several GPUs, with a line saying how to use them
  all: torchrun); under torchrun each process takes cuda:LOCAL_RANK;
- `cuda:N`: that GPU, outside torchrun only: under torchrun it would put every process on GPU N, so it
  is refused (choose GPUs with CUDA_VISIBLE_DEVICES and give `cuda`);
- `mps`, `cpu`: as named; MPS in one process only (torch's process groups have no MPS backend).

Under torchrun with more processes on a node than it has GPUs, processes share GPUs (process i takes
cuda:(LOCAL_RANK mod GPUs)) and talk over gloo, since NCCL refuses two processes on one GPU; a line
says so. A device this machine or this torch build lacks is a ConfigError naming what there is.

float32 is IEEE float32 on every device (`use_ieee_float32`): cuDNN would otherwise run float32
convolutions in TF32 on Ampere and later GPUs (10 bits of mantissa), so the tokenizer convolution the
model keeps in float32, the baselines and the float32 evaluation would not be float32 there. The fast
path is bf16 autocast, chosen by `--precision`, never a silent TF32.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from nwb_v1former.errors import ConfigError


@dataclass(frozen=True)
class Machine:
    """What this process can run on: the CUDA GPUs it sees and whether Apple's MPS is there."""

    gpus: int = 0
    mps: bool = False
    cuda_build: bool = False

    @classmethod
    def here(cls) -> Machine:
        """This machine, as this torch build sees it."""
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
        return cls(gpus, mps, torch.version.cuda is not None)

    def names(self) -> str:
        """The device names there are, for a message."""
        gpus = f", cuda (cuda:0 to cuda:{self.gpus - 1})" if self.gpus else ""
        return "cpu" + gpus + (", mps" if self.mps else "")


@dataclass(frozen=True)
class Launch:
    """This process among torchrun's: its rank on this node, the processes on this node and in all."""

    local_rank: int = 0
    local_world_size: int = 1
    world_size: int = 1

    @classmethod
    def from_environment(cls) -> Launch:
        """torchrun's LOCAL_RANK, LOCAL_WORLD_SIZE and WORLD_SIZE (one process when they are not set)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        return cls(
            int(os.environ.get("LOCAL_RANK", "0")), int(os.environ.get("LOCAL_WORLD_SIZE", str(world))), world
        )

    @property
    def torchrun(self) -> bool:
        return self.world_size > 1


@dataclass(frozen=True)
class Placement:
    """Where this process runs: its device, the process-group backend (None outside torchrun), and a
    line for the log where the choice needs one (GPUs left idle, or shared between processes)."""

    device: torch.device
    backend: str | None = None
    note: str | None = None


def place(requested: str | None, launch: Launch, machine: Machine) -> Placement:
    """The device and backend of this process (see the module for the rule); ConfigError when asked
    for a device that is not there or that torchrun's processes cannot share."""
    device = _device(requested, launch, machine)
    if not launch.torchrun:
        return Placement(device, None, _idle_gpus(device, machine))
    if device.type == "mps":
        raise ConfigError(
            f"--device {requested or 'mps'}: torch cannot join processes on MPS; run one process "
            "(no torchrun)"
        )
    if device.type == "cpu":
        return Placement(device, "gloo")
    if launch.local_world_size > machine.gpus:
        note = (
            f"{launch.local_world_size} processes share this node's {machine.gpus} GPU(s) over gloo (NCCL "
            "takes one process per GPU); for speed start one process per GPU "
            f"(--nproc-per-node {machine.gpus})"
        )
        return Placement(device, "gloo", note)
    return Placement(device, "nccl")


def _device(requested: str | None, launch: Launch, machine: Machine) -> torch.device:
    """The device alone, from what was asked (see the module)."""
    if not requested:
        if machine.gpus:
            return torch.device("cuda", launch.local_rank % machine.gpus)
        return torch.device("mps" if machine.mps and not launch.torchrun else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise ConfigError(f"--device {requested}: not a device name; use one of: {machine.names()}") from None
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type == "mps":
        if not machine.mps:
            raise ConfigError(
                f"--device {requested}: this machine or torch build has no MPS; use --device cpu"
            )
        return torch.device("mps")
    if device.type != "cuda":
        raise ConfigError(
            f"--device {requested}: {device.type} is not supported; use one of: {machine.names()}"
        )
    if not machine.gpus:
        build = "sees no GPU" if machine.cuda_build else "has no CUDA support"
        raise ConfigError(f"--device {requested}: this torch build {build}; use --device cpu")
    if device.index is None:
        return torch.device("cuda", launch.local_rank % machine.gpus if launch.torchrun else 0)
    if launch.torchrun:
        raise ConfigError(
            f"--device {requested} under torchrun would put all {launch.world_size} processes on one GPU; "
            "give --device cuda (each process takes cuda:LOCAL_RANK) and choose GPUs with "
            "CUDA_VISIBLE_DEVICES"
        )
    if device.index >= machine.gpus:
        raise ConfigError(
            f"--device {requested}: this machine has {machine.gpus} GPU(s); use one of: {machine.names()}"
        )
    return device


def _idle_gpus(device: torch.device, machine: Machine) -> str | None:
    """One process on one of several GPUs: the line that says how to use them all."""
    if device.type != "cuda" or machine.gpus < 2:
        return None
    return (
        f"training on {device}, one of this machine's {machine.gpus} GPUs; to use all of them: torchrun "
        f"--nproc-per-node {machine.gpus} -m nwb_v1former <command> ... --device cuda"
    )


def use_ieee_float32() -> None:
    """float32 work in IEEE float32 on every backend: no TF32 in cuDNN convolutions or CUDA matmuls
    (torch >= 2.9's per-backend `fp32_precision` settings; the legacy allow_tf32 flags are not touched)."""
    torch.backends.fp32_precision = "ieee"
    for backend in (torch.backends.cuda.matmul, torch.backends.cudnn.conv, torch.backends.cudnn.rnn):
        backend.fp32_precision = "ieee"


def pick_placement(requested: str | None) -> Placement:
    """This process's placement (torchrun's environment and this machine), float32 set to IEEE float32."""
    placement = place(requested, Launch.from_environment(), Machine.here())
    use_ieee_float32()
    return placement


def pick_device(requested: str | None) -> torch.device:
    """This process's device (see `place`), float32 set to IEEE float32: what every command calls once."""
    return pick_placement(requested).device
