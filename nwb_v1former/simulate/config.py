"""Configuration of the ground-truth V1 simulator (frozen, validated, serialisable)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from nwb_v1former.config import check_known_keys
from nwb_v1former.errors import ConfigError
from nwb_v1former.grid import FRAME_SHAPE, TICK_RATE_HZ

"""The model's clock (Hz): stimulus frames, rates and behaviour are simulated on these ticks."""

"""The model's frame (height, width) in pixels; the simulated screen is rendered at this size."""

DEGREES_PER_PIXEL = 120.0 / FRAME_SHAPE[1]
"""Visual angle of one screen pixel: the 64-pixel-wide frame spans 120 degrees of azimuth."""


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that determines one simulated animal; the same config and seed give the same data.

    Times are in seconds, distances in micrometres, rates in Hz. `imaging_phase` (imaging frames, None:
    random) places the first imaging frame between ticks; `timing_jitter` (imaging frames) makes the
    acquisition clock irregular, as real ones are. Sensorium-style data need phase 0 and no jitter.
    """

    neurons: int = 1000
    minutes: float = 10.0
    seed: int = 0
    animal: int = 0
    imaging_rate: float = 30.0
    planes: int = 1
    clip_seconds: float = 10.0
    gap_seconds: float = 1.0
    repeated_clips: int = 6
    repeats: int = 10
    only_repeats: bool = False
    """Every trial shows one of the `repeated_clips` clips (as Allen natural-movie sessions and many lab
    designs do): no clip is shown once, and the file has no tier column."""
    complex_fraction: float = 0.4
    cortex_size_um: tuple[float, float] = (800.0, 500.0)
    retinotopic_scatter_px: float = 1.5
    calcium_tau: float = 0.3
    event_amplitude: float = 0.1
    measurement_noise: float = 0.12
    imaging_phase: float | None = None
    timing_jitter: float = 0.02

    def __post_init__(self) -> None:
        checks = [
            (self.neurons >= 1, "neurons must be at least 1"),
            (self.minutes > 0, "minutes must be positive"),
            (self.seed >= 0, "seed must be non-negative"),
            (self.animal >= 0, "animal must be non-negative"),
            (0 < self.imaging_rate <= 120, "imaging_rate must be in (0, 120] Hz"),
            (self.planes >= 1, "planes must be at least 1"),
            (self.clip_seconds * TICK_RATE_HZ >= 30, "clip_seconds must be at least 1 s (30 frames)"),
            (self.gap_seconds >= 0, "gap_seconds must be non-negative"),
            (self.repeated_clips >= 1, "repeated_clips must be at least 1"),
            (self.repeats >= 2, "repeats must be at least 2 (a noise ceiling needs repeats)"),
            (0 <= self.complex_fraction <= 1, "complex_fraction must be in [0, 1]"),
            (min(self.cortex_size_um) > 0, "cortex_size_um must be positive"),
            (self.calcium_tau > 0, "calcium_tau must be positive"),
            (self.event_amplitude > 0, "event_amplitude must be positive"),
            (self.measurement_noise >= 0, "measurement_noise must be non-negative"),
            (
                self.imaging_phase is None or 0 <= self.imaging_phase < 1,
                "imaging_phase must be in [0, 1) imaging frames, or None for a random phase",
            ),
            (0 <= self.timing_jitter < 0.5, "timing_jitter must be in [0, 0.5) imaging frames"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"invalid simulation config: {message}")

    @property
    def clip_frames(self) -> int:
        """Frames per clip on the 30 Hz grid."""
        return round(self.clip_seconds * TICK_RATE_HZ)

    @property
    def gap_frames(self) -> int:
        """Grey frames between clips on the 30 Hz grid."""
        return round(self.gap_seconds * TICK_RATE_HZ)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON/YAML-serialisable form."""
        values = dataclasses.asdict(self)
        values["cortex_size_um"] = list(self.cortex_size_um)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SimulationConfig:
        """Inverse of `to_dict`; unknown keys are an error, never ignored."""
        check_known_keys(cls, values, "simulation")
        values = dict(values)
        if "cortex_size_um" in values:
            values["cortex_size_um"] = tuple(float(v) for v in values["cortex_size_um"])
        return cls(**values)
