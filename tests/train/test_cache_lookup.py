"""Inference reads a readout run's feature cache back only where its key matches exactly, and then
predicts without running the core, to the same values; the cache holds every piece predict cuts."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from nwb_v1former.data.store import SessionStore
from nwb_v1former.inference.core_source import CoreSource
from nwb_v1former.inference.evaluation import tier_trials
from nwb_v1former.inference.session_cut import whole_session_pieces
from nwb_v1former.inference.windows import predict_pieces
from nwb_v1former.model.checkpoint import load_checkpoint
from nwb_v1former.train.cache_lookup import matching_cache, serves
from nwb_v1former.train.feature_cache import SessionPieces, open_caches, session_pieces
from nwb_v1former.train.finetune import resolve_base


def test_the_cache_holds_predicts_cut_and_serves_it_only_to_the_same_core_and_inputs(
    one_store: Path, tmp_path: Path
) -> None:
    store = SessionStore(one_store)
    model = load_checkpoint(resolve_base("tiny-sim"))
    model.add_session(store.key, store.roi_ids, store.coordinates)
    model.eval()
    rule, trials = model.config.window, store.trials
    whole = whole_session_pieces(trials.first_tick, trials.stop_tick, store.n_ticks, rule)
    validation = tier_trials(store, "validation")
    pieces = session_pieces(store, np.zeros(0, np.int64), 0, validation, rule)
    assert {(p.begin, p.length) for p in whole} <= set(map(tuple, pieces.tolist()))  # predict's whole cut

    first = whole[:5]  # the first trials and the ticks between them: the same code, a fraction of the time
    held = np.array([(p.begin, p.length) for p in first], np.int64)
    cpu = torch.device("cpu")
    open_caches(model, [SessionPieces(store, held)], tmp_path, "float32", device=cpu, precision="float32")
    cache = matching_cache(tmp_path, model, store, "float32")
    assert cache is not None
    from_cache, through_core = CoreSource("float32", cache), CoreSource("float32")
    cached = [values for _, values in predict_pieces(model, store, None, first, core=from_cache)]
    computed = [values for _, values in predict_pieces(model, store, None, first, core=through_core)]
    np.testing.assert_allclose(np.concatenate(cached), np.concatenate(computed), rtol=1e-5, atol=1e-6)
    assert from_cache.computed_ticks == 0 and from_cache.cached_ticks == through_core.computed_ticks

    other = copy.deepcopy(model)
    with torch.no_grad():
        next(other.core.parameters()).view(-1)[0] += 1e-3
    assert matching_cache(tmp_path, other, store, "float32") is None  # other core weights: not this cache
    assert matching_cache(tmp_path, model, store, "bf16") is not None  # float32 values serve bf16 too


def test_a_float16_cache_serves_bf16_requests_only() -> None:
    assert serves({"precision": "float32", "dtype": "float32"}, "float32")
    assert not serves({"precision": "float32", "dtype": "float16"}, "float32")
    assert not serves({"precision": "bf16", "dtype": "float32"}, "float32")
    assert serves({"precision": "bf16", "dtype": "float16"}, "bf16")
