"""Attention and behaviour: what the spatial and temporal Transformers attend to on held-out trials,
summarised per frame, and how that follows pupil position, pupil size and running speed.

Per frame t of a trial, averaged over heads and blocks:
- spatial: the attention each patch receives from the patch queries (registers left out, renormalised)
  is a distribution over the frame; its centre (`spatial_center_x` column, `spatial_center_y` row, in
  pixels of the 36 x 64 frame) and its entropy over log(patches) (`spatial_entropy`, 1: uniform);
- temporal: each patch's query at t spreads its attention over frames 0..t (causal); its mean lag
  (`temporal_mean_lag`, frames back) and entropy over log(t + 1) (`temporal_entropy`), averaged over patches.

Each summary is correlated (Pearson) with each behaviour over all frames of the tier's trials, the
first `skip` frames of every trial left out (the temporal attention has few frames to spread over
there), after subtracting the summary's mean time course over the trials (its mean at the same frame
of every trial): the temporal attention spreads wider as a trial goes on, and that drift must not pass
for an effect of behaviour. The shuffle control: the correlations of every circular shift of the
behaviour by at least `min_shift` frames against the summaries, which keeps both series'
autocorrelation and breaks their alignment; p = (1 + #{|r_null| >= |r|}) / (1 + #shifts), two-sided.
The 20 pairs are 20 tests: their p-values are adjusted by Benjamini-Hochberg (false discovery rate over
the pairs), and only an adjusted p below 0.05 is called significant. With S shifts no p is below
1 / (1 + S), so few shifts can make every adjusted p too large to pass.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from nwb_v1former import metrics
from nwb_v1former.analysis.experiment import model_device
from nwb_v1former.analysis.results import AnalysisProvenance, ResultTable
from nwb_v1former.data.stats import Normalizer
from nwb_v1former.data.store import SessionStore
from nwb_v1former.errors import ConfigError, SessionError
from nwb_v1former.inference.evaluation import tier_trials
from nwb_v1former.inference.windows import model_inputs
from nwb_v1former.metrics import SKIP_FRAMES
from nwb_v1former.model.attention import capture_attention
from nwb_v1former.model.core import ViViTCore
from nwb_v1former.model.model import V1Former
from nwb_v1former.plain import plain

SUMMARIES = {
    "spatial_center_x": "column (pixels) of the centre of the spatial attention map",
    "spatial_center_y": "row (pixels) of the centre of the spatial attention map",
    "spatial_entropy": "entropy of the spatial attention map over log(patches)",
    "temporal_mean_lag": "mean lag (frames back) of the temporal attention",
    "temporal_entropy": "entropy of the temporal attention over log(frames it may attend to)",
}
BEHAVIORS = {
    "pupil_x": "horizontal pupil position",
    "pupil_y": "vertical pupil position",
    "pupil_size": "pupil size",
    "running_speed": "running speed",
}
MIN_SHIFTS = 20
"""Fewer admissible circular shifts than this make no null distribution."""


@dataclass(frozen=True)
class AttentionConfig:
    """Which trials (`tier`, at most `max_trials`), frames left out of each (`skip`), shortest shift."""

    tier: str = "test"
    skip: int = SKIP_FRAMES
    min_shift: int = 300
    max_trials: int | None = None

    def __post_init__(self) -> None:
        if self.skip < 1 or self.min_shift < 1:
            raise ConfigError("attention config: skip and min_shift must be at least 1 frame")
        if self.max_trials is not None and self.max_trials < 1:
            raise ConfigError("attention config: max_trials must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def patch_centers(core: ViViTCore) -> np.ndarray:
    """Centre (row, column) in pixels of every patch, in the tokens' raster order; (P, 2) float64."""
    rows, columns = core.cell_centers()
    grid_rows, grid_columns = np.meshgrid(rows, columns, indexing="ij")
    return np.stack([grid_rows.ravel(), grid_columns.ravel()], axis=1)


def _reducer(registers: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """Attention weights (rows, heads, L, L) -> (rows, 3, L - registers): per token (registers left out)
    the attention it receives (mean over queries), and as a query its mean lag and entropy."""

    def reduce(weights: torch.Tensor) -> torch.Tensor:
        tokens = weights.float().mean(dim=1)
        n = tokens.shape[-1] - registers
        tokens = tokens[:, :n, :n]
        position = torch.arange(n, device=tokens.device, dtype=tokens.dtype)
        lag = (tokens * (position[:, None] - position[None, :])).sum(-1)
        entropy = -(tokens * torch.log(tokens.clamp_min(1e-12))).sum(-1)
        return torch.stack([tokens.mean(dim=1), lag, entropy], dim=1)

    return reduce


@torch.inference_mode()
def attention_per_frame(
    model: V1Former, video: torch.Tensor, behavior: torch.Tensor, pupil_center: torch.Tensor
) -> dict[str, np.ndarray]:
    """Per-frame attention summaries of one clip; video (1, 1, T, 36, 64), behavior and pupil_center
    (1, 2, T), normalised -> SUMMARIES name -> (T,) float64."""
    core = model.core
    model.eval()
    with capture_attention(model, reduce=_reducer(core.config.register_tokens)) as maps:
        core(video, behavior, pupil_center)
    spatial = torch.stack(maps.spatial).mean(dim=0).double().cpu().numpy()  # (T, 3, P)
    temporal = torch.stack(maps.temporal).mean(dim=0).double().cpu().numpy()  # (P, 3, T)
    received = spatial[:, 0] / spatial[:, 0].sum(axis=1, keepdims=True)  # (T, P)
    center = received @ patch_centers(core)
    n_patches, frames = received.shape[1], temporal.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        spatial_entropy = -(received * np.log(np.clip(received, 1e-12, None))).sum(axis=1) / math.log(
            n_patches
        )
        temporal_entropy = temporal[:, 2].mean(axis=0) / np.log(np.arange(frames) + 1.0)
    return {
        "spatial_center_x": center[:, 1],
        "spatial_center_y": center[:, 0],
        "spatial_entropy": spatial_entropy,
        "temporal_mean_lag": temporal[:, 1].mean(axis=0),
        "temporal_entropy": temporal_entropy,
    }


def relative_to_time_course(values: np.ndarray, position: np.ndarray) -> np.ndarray:
    """values (n,) minus their mean over all frames at the same position (frame of the trial); (n,)."""
    sums, counts = np.bincount(position, weights=values), np.bincount(position)
    return values - (sums / np.maximum(counts, 1))[position]


def shift_correlations(a: np.ndarray, b: np.ndarray, min_shift: int) -> tuple[float, np.ndarray]:
    """Pearson r of a and b (n,), and of a with b circularly shifted by each s in [min_shift, n - min_shift].

    All shifts at once through the FFT (circular cross-correlation). NaN when either series is constant.
    """
    n = len(a)
    if a.std() == 0 or b.std() == 0:
        return math.nan, np.full(n - 2 * min_shift + 1, np.nan)
    az, bz = (a - a.mean()) / a.std(), (b - b.mean()) / b.std()
    circular = np.fft.irfft(np.fft.rfft(az) * np.conj(np.fft.rfft(bz)), n) / n  # [s] = mean_t a[t] b[t - s]
    return float(circular[0]), circular[min_shift : n - min_shift + 1]


@dataclass(frozen=True, eq=False)  # array fields: compare by identity
class AttentionResult:
    """Per-frame summaries and behaviour, and their correlations with the shuffle control.

    frames: name -> (n,) for every SUMMARIES and BEHAVIORS key (summaries as measured, before the time
    course is subtracted) plus `trial` (index into the store's trials), `tick` and `position` (frame of
    its trial); r, p_value, p_adjusted, null_mean, null_std, null_abs_95 (A, B) for A summaries x B
    behaviours (p_adjusted: Benjamini-Hochberg over the A x B pairs; null_abs_95: 95th percentile of |r|
    over the shifts); `shifts`: how many circular shifts.
    """

    frames: dict[str, np.ndarray]
    r: np.ndarray
    p_value: np.ndarray
    p_adjusted: np.ndarray
    null_mean: np.ndarray
    null_std: np.ndarray
    null_abs_95: np.ndarray
    shifts: int
    n_trials: int
    config: AttentionConfig
    provenance: AnalysisProvenance

    def table(self) -> ResultTable:
        """One row per (attention summary, behaviour) pair."""
        pairs = [(s, b) for s in SUMMARIES for b in BEHAVIORS]
        n_frames = len(self.frames["tick"])

        def flat(values: np.ndarray) -> np.ndarray:
            return np.asarray(values, np.float64).ravel()

        columns = {
            "attention_summary": (
                "Per-frame attention summary (see the description).",
                np.array([s for s, _ in pairs]),
            ),
            "behavior": ("Behaviour variable, from the session's data.", np.array([b for _, b in pairs])),
            "r": ("Pearson correlation over the frames.", flat(self.r)),
            "p_value": ("Two-sided p of |r| among circular shifts of the behaviour.", flat(self.p_value)),
            "p_value_bh": (
                "p_value adjusted by Benjamini-Hochberg over every (summary, behaviour) pair of the table.",
                flat(self.p_adjusted),
            ),
            "null_mean": ("Mean r over the circular shifts.", flat(self.null_mean)),
            "null_std": ("Standard deviation of r over the circular shifts.", flat(self.null_std)),
            "null_abs_95": ("95th percentile of |r| over the circular shifts.", flat(self.null_abs_95)),
        }
        summaries = "; ".join(f"{name}: {text}" for name, text in SUMMARIES.items())
        description = (
            f"Correlation of per-frame attention summaries with behaviour over {n_frames} frames of "
            f"{self.n_trials} {self.config.tier} trials (first {self.config.skip} frames of each left out), "
            f"against {self.shifts} circular shifts of at least {self.config.min_shift} frames. "
            f"{summaries}. {self.provenance.describe()}"
        )
        return ResultTable("insilico_attention", description, columns)

    def summary(self) -> dict[str, Any]:
        """Every pair's r, p and null 95% |r|, by summary then behaviour."""
        return {
            "frames": len(self.frames["tick"]),
            "trials": self.n_trials,
            "shifts": self.shifts,
            "correlations": {
                summary: {
                    behavior: {
                        "r": plain(self.r[i, j]),
                        "p_value": plain(self.p_value[i, j]),
                        "p_value_bh": plain(self.p_adjusted[i, j]),
                        "null_abs_95": plain(self.null_abs_95[i, j]),
                    }
                    for j, behavior in enumerate(BEHAVIORS)
                }
                for i, summary in enumerate(SUMMARIES)
            },
        }


def _frames(
    model: V1Former, store: SessionStore, config: AttentionConfig, progress: bool
) -> tuple[dict[str, np.ndarray], int]:
    """Summaries and behaviour of every analysed frame of the tier's trials, and how many trials.

    Each trial is run from its first tick without earlier context (as in evaluation); a trial longer
    than the model's window is analysed over its first piece (one pass: one attention map per block).
    """
    indices = tier_trials(store, config.tier, config.skip)
    if config.max_trials is not None:
        indices = indices[: config.max_trials]
    if len(indices) < 2:
        raise SessionError(
            f"{len(indices)} {config.tier} trial(s) longer than {config.skip} ticks; the "
            "analysis needs at least 2 (choose another tier)",
            where=store.folder,
        )
    normalizer = Normalizer.from_statistics(store.statistics)
    device = model_device(model)
    parts: list[dict[str, np.ndarray]] = []
    for index in tqdm(indices, desc="attention", unit="trial", disable=not progress):
        first = int(store.trials.first_tick[index])
        stop = min(int(store.trials.stop_tick[index]), first + model.config.window.length)
        summaries = attention_per_frame(model, *model_inputs(store, normalizer, first, stop, device))
        ticks = np.arange(first + config.skip, stop)
        behavior, pupil = np.asarray(store.behavior[ticks]), np.asarray(store.pupil_center[ticks])
        parts.append(
            {
                **{name: values[config.skip :] for name, values in summaries.items()},
                "pupil_x": pupil[:, 0],
                "pupil_y": pupil[:, 1],
                "pupil_size": behavior[:, 0],
                "running_speed": behavior[:, 1],
                "trial": np.full(len(ticks), index),
                "tick": ticks,
                "position": ticks - first,
            }
        )
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}, len(indices)


def attention_behavior(
    model: V1Former,
    store: SessionStore,
    provenance: AnalysisProvenance,
    *,
    config: AttentionConfig | None = None,
    progress: bool = False,
) -> AttentionResult:
    """Attention summaries on the tier's trials of `store`, correlated with its behaviour, with shuffles."""
    if not isinstance(model.core, ViViTCore):
        raise ConfigError(
            f"the attention experiment needs a Transformer core; this model's core is "
            f"{model.config.family!r}, which has no attention (run tuning or rf on it instead)"
        )
    config = config or AttentionConfig()
    frames, n_trials = _frames(model, store, config, progress)
    n = len(frames["tick"])
    min_shift = min(config.min_shift, n // 4)
    if n - 2 * min_shift + 1 < MIN_SHIFTS:
        raise SessionError(
            f"only {n} frames to analyse in the {config.tier} trials; too few for a "
            "shuffle control (use a tier with more trials, or a smaller skip)",
            where=store.folder,
        )
    detrended = {name: relative_to_time_course(frames[name], frames["position"]) for name in SUMMARIES}
    shape = (len(SUMMARIES), len(BEHAVIORS))
    r, p, null_mean, null_std, null_95 = (np.full(shape, np.nan) for _ in range(5))
    shifts = n - 2 * min_shift + 1
    for i, summary in enumerate(SUMMARIES):
        for j, behavior in enumerate(BEHAVIORS):
            observed, null = shift_correlations(detrended[summary], frames[behavior], min_shift)
            if not np.isfinite(observed):
                continue
            r[i, j] = observed
            p[i, j] = (1 + np.sum(np.abs(null) >= abs(observed))) / (1 + len(null))
            null_mean[i, j], null_std[i, j] = null.mean(), null.std()
            null_95[i, j] = np.percentile(np.abs(null), 95)
    return AttentionResult(
        frames=frames,
        r=r,
        p_value=p,
        p_adjusted=metrics.benjamini_hochberg(p),
        null_mean=null_mean,
        null_std=null_std,
        null_abs_95=null_95,
        shifts=shifts,
        n_trials=n_trials,
        config=dataclasses.replace(config, min_shift=min_shift),
        provenance=provenance,
    )
