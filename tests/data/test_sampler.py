"""MultiSessionDataset and RoundRobinSampler: every session in turn, reproducible per seed and epoch."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from nwb_v1former.data import MultiSessionDataset, RoundRobinSampler, WindowDataset
from nwb_v1former.errors import ConfigError


@pytest.fixture
def multi(store_factory) -> MultiSessionDataset:
    """Session "a": 3 windows of 4 neurons; session "b": 7 windows of 6 neurons."""
    a = store_factory("a", [(0, 15, "train"), (15, 20, "validation")], n_ticks=20, n_neurons=4, seed=0)
    b = store_factory("b", [(0, 20, "train"), (20, 35, "train")], n_ticks=35, n_neurons=6, seed=1)
    return MultiSessionDataset({"a": WindowDataset(a, window=5), "b": WindowDataset(b, window=5)})


def test_items_are_addressed_by_session_and_index(multi):
    assert len(multi) == 10 and multi.lengths == {"a": 3, "b": 7}
    item = multi[("b", 4)]
    assert item["session"] == "b" and item["first_tick"] == 20 and item["responses"].shape == (5, 6)


def test_round_robin_cycles_smaller_sessions_until_the_largest_is_exhausted(multi):
    order = list(RoundRobinSampler(multi, seed=0))
    assert len(order) == len(RoundRobinSampler(multi, seed=0)) == 14
    assert [key for key, _ in order] == ["a", "b"] * 7
    a = [index for key, index in order if key == "a"]
    b = [index for key, index in order if key == "b"]
    assert sorted(b) == list(range(7))
    assert sorted(a[0:3]) == sorted(a[3:6]) == [0, 1, 2] and a[6] in (0, 1, 2)


def test_order_is_fixed_by_seed_and_epoch(multi):
    sampler = RoundRobinSampler(multi, seed=5)
    epoch0 = list(sampler)
    assert list(sampler) == epoch0 == list(RoundRobinSampler(multi, seed=5))
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert epoch1 != epoch0
    assert sorted(index for key, index in epoch1 if key == "b") == list(range(7))
    assert list(RoundRobinSampler(multi, seed=6)) != epoch0
    sampler.set_epoch(0)
    assert list(sampler) == epoch0


def test_without_shuffle_each_session_runs_in_order(multi):
    order = list(RoundRobinSampler(multi, seed=0, shuffle=False))
    assert [index for key, index in order if key == "a"] == [0, 1, 2, 0, 1, 2, 0]
    assert [index for key, index in order if key == "b"] == list(range(7))


def test_data_loader_alternates_sessions(multi):
    loader = DataLoader(multi, batch_size=1, sampler=RoundRobinSampler(multi, seed=0))
    batches = list(loader)
    assert [batch["session"][0] for batch in batches] == ["a", "b"] * 7
    assert {batch["responses"].shape[-1] for batch in batches} == {4, 6}
    assert all(batch["video"].dtype == torch.float32 for batch in batches)


def test_keys_must_name_their_stores(multi):
    with pytest.raises(ConfigError, match=r"use store\.key"):
        MultiSessionDataset({"b": multi.datasets["a"]})
    with pytest.raises(ConfigError, match="no sessions"):
        MultiSessionDataset({})
