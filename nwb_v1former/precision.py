"""Which arithmetic the model's core runs in: bf16 autocast where the hardware runs it fast, else float32.

bf16 halves the core's cost only where matrix units take bf16 natively: CUDA GPUs from compute
capability 8.0 (Ampere, Hopper; a V100 or T4 reports bf16 "supported" but emulates it) and CPUs with
AMX tiles (Sapphire Rapids and later). Elsewhere bf16 autocast still computes, slower than float32.
Only the core is affected: its tokenizer convolution and the per-animal heads always run in float32.
"""

from __future__ import annotations

import contextlib

import torch

from nwb_v1former.errors import ConfigError

PRECISIONS = ("auto", "bf16", "float32")
"""What a command accepts; `auto` is bf16 where `bf16_is_fast`, else float32."""


def bf16_is_fast(device: torch.device) -> bool:
    """Whether `device` multiplies bf16 matrices natively (CUDA sm80+, a CPU with AMX tiles)."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device)[0] >= 8
    if device.type == "cpu":
        return bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())
    return False


def resolve_precision(requested: str, device: torch.device) -> str:
    """The precision ("bf16" or "float32") a command runs at for its `--precision` (auto, bf16, float32)."""
    if requested not in PRECISIONS:
        raise ConfigError(f"--precision {requested}: choose one of {', '.join(PRECISIONS)}")
    if requested == "auto":
        return "bf16" if bf16_is_fast(device) else "float32"
    return requested


def compute_precision(requested: str, device: torch.device) -> str:
    """Training's rule for its frozen core's pass: its "bf16" (the default) means bf16 where fast."""
    return resolve_precision("auto" if requested == "bf16" else requested, device)


def core_autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The context the core runs in at a resolved `precision` ("bf16" or "float32")."""
    if not torch.amp.is_autocast_available(device.type):  # e.g. meta (tests/test_device_work.py)
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
