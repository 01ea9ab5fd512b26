"""V1Former: one shared core and per-session heads (readout, shifter, activation) keyed by session."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from nwb_v1former.errors import ConfigError
from nwb_v1former.model.autocast import without_autocast
from nwb_v1former.model.config import ModelConfig
from nwb_v1former.model.cores import build_core
from nwb_v1former.model.readout import ELUPlusOne, GaussianReadout, Shifter


@dataclass(frozen=True)
class SessionInfo:
    """What a session's heads were built for: ROI ids (N,) in response-column order, coordinates (N, 3)."""

    roi_ids: np.ndarray
    coordinates: np.ndarray

    @property
    def n_neurons(self) -> int:
        return len(self.roi_ids)


class V1Former(nn.Module):
    """The ViV1T model: `model(video, behavior, pupil_center, session=key)` -> responses (B, T, N).

    The core is that of `config.family` (the ViV1T Transformer, or a baseline: see model/cores.py); the
    heads are the same for every family.

    video (B, 1, T, 36, 64), behavior (B, 2, T) = [pupil size, running speed] and pupil_center
    (B, 2, T), all normalised; N and the column order are those of `model.sessions[key].roi_ids`.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.core = build_core(config.family, config.core, config.frame_shape)
        self.readouts = nn.ModuleDict()
        self.shifters = nn.ModuleDict()
        self.activations = nn.ModuleDict()
        self.sessions: dict[str, SessionInfo] = {}

    def add_session(
        self, key: str, roi_ids: np.ndarray, coordinates: np.ndarray, mean_response: np.ndarray | None = None
    ) -> None:
        """Fresh heads for a new session; the readout bias starts at the neurons' mean response.

        The heads take the model's mode (train / eval) and the core's device, so a session added to a
        model in eval mode predicts deterministically at once.
        """
        if key in self.sessions:
            raise ConfigError(f"session {key!r} already has heads in this model")
        if "." in key or not key:
            raise ConfigError(f"session key {key!r} must be non-empty and contain no '.'")
        roi_ids, coordinates = np.asarray(roi_ids), np.asarray(coordinates, dtype=np.float32)
        if coordinates.ndim != 2 or coordinates.shape[0] != len(roi_ids) or coordinates.shape[1] < 2:
            raise ConfigError(f"session {key!r}: coordinates must be (N, 2 or 3) for {len(roi_ids)} ROI ids")
        if not np.isfinite(coordinates).all():  # one NaN would make every readout position NaN
            bad = roi_ids[~np.isfinite(coordinates).all(axis=1)]
            raise ConfigError(
                f"session {key!r}: ROI {', '.join(map(str, bad[:5]))} have no finite coordinates (an empty "
                "mask?); convert the session again"
            )
        mean = np.zeros(len(roi_ids), np.float32) if mean_response is None else np.asarray(mean_response)
        heads = self.config.heads
        self.readouts[key] = GaussianReadout(
            torch.from_numpy(coordinates),
            self.config.core.emb_dim,
            heads.position_hidden,
            torch.from_numpy(mean),
        )
        self.shifters[key] = Shifter(heads.shifter_hidden, heads.shifter_layers)
        self.activations[key] = ELUPlusOne()
        device = next(self.core.parameters()).device
        for heads_of in (self.readouts, self.shifters, self.activations):
            heads_of[key].to(device).train(self.training)
        self.sessions[key] = SessionInfo(roi_ids, coordinates)

    def session(self, key: str) -> SessionInfo:
        """The readout `key`'s ROI ids and coordinates; one clear line naming the readouts if unknown."""
        if key not in self.sessions:
            known = ", ".join(self.sessions) or "none"
            raise ConfigError(
                f"the checkpoint has no readout for session {key!r}; it has: {known} (fine-tune on this "
                "session first with `nwb-v1former finetune`, or pass --session)"
            )
        return self.sessions[key]

    def _check_inputs(
        self, video: torch.Tensor, behavior: torch.Tensor, pupil_center: torch.Tensor, key: str
    ) -> None:
        self.session(key)
        height, width = self.config.frame_shape
        if video.ndim != 5 or video.shape[1] != 1 or tuple(video.shape[3:]) != (height, width):
            raise ConfigError(f"video must be (B, 1, T, {height}, {width}), got {tuple(video.shape)}")
        batch, frames = video.shape[0], video.shape[2]
        for name, value in (("behavior", behavior), ("pupil_center", pupil_center)):
            if tuple(value.shape) != (batch, 2, frames):
                raise ConfigError(
                    f"{name} must be (B, 2, T) = ({batch}, 2, {frames}), got {tuple(value.shape)}"
                )

    def forward(
        self,
        video: torch.Tensor | None,
        behavior: torch.Tensor | None,
        pupil_center: torch.Tensor,
        *,
        session: str,
        activate: bool = True,
        core_output: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Responses (B, T, N). `core_output` (B, E, T, H', W'): the core's output for these inputs when it
        is already known (a frozen core's feature cache); video and behavior are then not used."""
        if core_output is None:
            self._check_inputs(video, behavior, pupil_center, session)
            core_output = self.core(video, behavior, pupil_center)
        else:
            self._check_core_output(core_output, pupil_center, session)
        with without_autocast(pupil_center.device.type):  # the heads run in float32 under any autocast
            shift = self.shifters[session](pupil_center.float())
            responses = self.readouts[session](core_output.float(), shift)
            return self.activations[session](responses) if activate else responses

    def _check_core_output(self, core_output: torch.Tensor, pupil_center: torch.Tensor, key: str) -> None:
        self.session(key)
        batch, frames = pupil_center.shape[0], pupil_center.shape[-1]
        expected = (batch, self.config.core.emb_dim, frames, *self.core.grid)
        if tuple(core_output.shape) != expected:
            raise ConfigError(
                f"core output must be (B, E, T, H', W') = {expected}, got {tuple(core_output.shape)}"
            )
