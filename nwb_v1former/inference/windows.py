"""Run a fitted model over a converted session: predictions on the store's 30 Hz ticks, in its units.

Long spans are cut into pieces by the checkpoint's window rule (nwb_v1former.model.window): at most
the model's window per pass, every later piece with the rule's context of history before it; a whole
session is cut trial by trial (nwb_v1former.inference.session_cut). Pieces are yielded one at a time,
so memory does not grow with the session's length.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from nwb_v1former.data.stats import Normalizer
from nwb_v1former.data.store import SessionStore
from nwb_v1former.errors import ConfigError
from nwb_v1former.inference.core_source import CoreSource
from nwb_v1former.inference.session_cut import session_spans
from nwb_v1former.model.model import V1Former
from nwb_v1former.model.window import Piece


def model_inputs(
    store: SessionStore, normalizer: Normalizer, start: int, stop: int, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normalised inputs for ticks [start, stop): video (1, 1, T, 36, 64), behavior, pupil (1, 2, T)."""
    ticks = slice(start, stop)
    video = torch.from_numpy(normalizer.video(store.video[ticks]))[None, None]
    behavior = torch.from_numpy(np.ascontiguousarray(normalizer.behavior(store.behavior[ticks]).T))[None]
    pupil = torch.from_numpy(np.ascontiguousarray(normalizer.pupil_center(store.pupil_center[ticks]).T))[None]
    return video.to(device), behavior.to(device), pupil.to(device)


def check_session(model: V1Former, store: SessionStore, key: str) -> None:
    """The model has heads for `key`, built for this store's ROIs in this order."""
    roi_ids = model.session(key).roi_ids
    if len(roi_ids) != store.n_neurons or not np.array_equal(roi_ids, store.roi_ids):
        raise ConfigError(
            f"session {key!r} of the checkpoint was fitted to {len(roi_ids)} ROIs, the data "
            f"have {store.n_neurons} with other ids; the readout cannot be reused for these neurons",
            where=store.folder,
        )


def predict_windows(
    model: V1Former,
    store: SessionStore,
    key: str | None = None,
    *,
    start: int = 0,
    stop: int | None = None,
    device: torch.device | str = "cpu",
    core: CoreSource | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (first_tick, predictions (n, N) float32) covering ticks [start, stop) in order.

    Predictions are in the store's response units (the model's normalised output times each neuron's
    training-tier std). `key` defaults to the store's key. History never reaches before `start`.
    `core` says where the core's output comes from (default: the core in float32).
    """
    stop = store.n_ticks if stop is None else stop
    if not 0 <= start < stop <= store.n_ticks:
        raise ConfigError(f"ticks [{start}, {stop}) are not inside [0, {store.n_ticks})", where=store.folder)
    pieces = model.config.window.pieces(start, stop)
    return predict_pieces(model, store, key, pieces, device=device, core=core)


def predict_session(
    model: V1Former,
    store: SessionStore,
    key: str | None = None,
    *,
    known: dict[int, np.ndarray] | None = None,
    device: torch.device | str = "cpu",
    core: CoreSource | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (first_tick, predictions (n, N) float32) covering the whole session in order, cut trial by
    trial (nwb_v1former.inference.session_cut). `known`: trial index -> its predictions (T_i, N) where
    already made (the scored trials), yielded as they are."""
    known = {} if known is None else known
    trials, rule = store.trials, model.config.window
    for span in session_spans(trials.first_tick, trials.stop_tick, store.n_ticks, rule.context):
        if span.trial in known:
            yield span.start, known[span.trial]
        else:
            yield from predict_pieces(model, store, key, span.pieces(rule), device=device, core=core)


@torch.inference_mode()
def predict_pieces(
    model: V1Former,
    store: SessionStore,
    key: str | None,
    pieces: list[Piece],
    *,
    device: torch.device | str = "cpu",
    core: CoreSource | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (piece.first, predictions (piece.stop - piece.first, N) float32) for each piece in turn;
    `key` defaults to the store's key, `core` to the core in float32."""
    core = CoreSource() if core is None else core
    key = store.key if key is None else key
    check_session(model, store, key)
    normalizer = Normalizer.from_statistics(store.statistics)
    model.eval()
    for piece in pieces:
        video, behavior, pupil = model_inputs(store, normalizer, piece.begin, piece.stop, device)
        core_output = core(model, video, behavior, pupil, piece.begin)
        output = model(None, None, pupil, session=key, core_output=core_output)
        kept = output[0, piece.first - piece.begin :]
        yield piece.first, normalizer.responses_inverse(kept.float().cpu().numpy())


def predict_span(
    model: V1Former, store: SessionStore, key: str | None, start: int, stop: int, **options
) -> np.ndarray:
    """Predictions (stop - start, N) float32 for one span of ticks, e.g. one trial (history from inside
    the span only)."""
    return np.concatenate(
        [values for _, values in predict_windows(model, store, key, start=start, stop=stop, **options)]
    )
