"""The simulator's noise-free response model as a torch module with V1Former's call signature.

An in-silico analysis run on it must recover the simulator's own parameters (orientation, RF centre,
running gain) almost exactly: the check that the analysis itself is right, before it meets a fitted
model. Deviations from `simulate.responses`: the drive is not scaled by its session std (thresholds are
in units of unit-norm filter outputs), eye position is ignored (pupil centre held at its mean), and the
surround (with `surround=True`) divides by 1 + k S without the session's reference contrast and acts at
once, not through the temporal kernel.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nwb_v1former.model.model import SessionInfo
from nwb_v1former.simulate.population import Population, gabor_filters
from nwb_v1former.simulate.responses import COMPLEX_THRESHOLD, SIMPLE_THRESHOLD
from nwb_v1former.simulate.surround import surround_pools

RUNNING_STD_CM_S = 11.6
"""Running speed std of a simulated session: normalised speed 1 is about this many cm/s."""


class GaborTwin(nn.Module):
    """video (B, 1, T, 36, 64), behavior (B, 2, T), pupil_center (B, 2, T) -> rates (B, T, N)."""

    def __init__(self, population: Population, key: str = "twin", *, surround: bool = False) -> None:
        super().__init__()
        strength = population.surround_strength if surround else np.zeros(population.size)
        self.register_buffer("strength", torch.as_tensor(strength, dtype=torch.float32))
        pools = surround_pools(population.rf_center, population.surround_sigma_px)
        self.register_buffer("pools", torch.from_numpy(pools))
        self.sessions = {key: SessionInfo(population.roi_ids, population.position_um)}
        self.register_buffer("even", torch.from_numpy(gabor_filters(population)))
        self.register_buffer("odd", torch.from_numpy(gabor_filters(population, np.pi / 2)))
        kernel = torch.from_numpy(population.temporal_kernel.astype(np.float32))  # (K, N), tap 0 = now
        self.register_buffer("kernel", kernel.flip(0).T[:, None, :])  # (N, 1, K) for a causal conv1d
        for name in ("is_complex", "gain_running", "baseline", "amplitude"):
            self.register_buffer(name, torch.as_tensor(getattr(population, name), dtype=torch.float32))

    def session(self, key: str) -> SessionInfo:
        """As V1Former.session: the readout's ROI ids and coordinates (the analyses ask for them)."""
        return self.sessions[key]

    def _temporal(self, drive: torch.Tensor) -> torch.Tensor:
        """Causal per-neuron filtering; (B, T, N) -> (B, T, N)."""
        taps = self.kernel.shape[-1]
        signal = F.pad(drive.transpose(1, 2), (taps - 1, 0))
        return F.conv1d(signal, self.kernel, groups=self.kernel.shape[0]).transpose(1, 2)

    def forward(
        self, video: torch.Tensor, behavior: torch.Tensor, pupil_center: torch.Tensor, *, session: str
    ) -> torch.Tensor:
        frames = video[:, 0].flatten(2)  # (B, T, H*W)
        even, odd = self._temporal(frames @ self.even), self._temporal(frames @ self.odd)
        simple = F.relu(even - SIMPLE_THRESHOLD)
        energy = torch.sqrt(even**2 + odd**2 + 1e-12)
        driven = torch.where(self.is_complex.bool(), F.relu(energy - COMPLEX_THRESHOLD), simple)
        running = torch.tanh(behavior[:, 1, :, None] * RUNNING_STD_CM_S / 20.0)
        divisor = 1 + self.strength * torch.sqrt(frames**2 @ self.pools + 1e-12)
        return self.baseline + self.amplitude * driven / divisor * torch.exp(self.gain_running * running)
