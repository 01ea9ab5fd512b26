"""The authors' reference fixtures (../shared/fixtures/viv1t), loaded once; tests skip without them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "viv1t"


def _fixture(name: str) -> dict:
    path = FIXTURES / f"viv1t_reference_{name}.pt"
    if not path.is_file():
        pytest.skip(f"reference fixture {path} not present")
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.fixture(scope="session")
def reference_small() -> dict:
    return _fixture("small")


@pytest.fixture(scope="session")
def reference_full() -> dict:
    return _fixture("full")
