"""Regions of the model that run in float32 under any autocast (the tokenizer's cancelling convolution,
the heads)."""

from __future__ import annotations

import contextlib

import torch


def without_autocast(device_type: str) -> contextlib.AbstractContextManager:
    """Autocast off on `device_type`; a device autocast does not know (e.g. meta) has none to turn off."""
    if torch.amp.is_autocast_available(device_type):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()
