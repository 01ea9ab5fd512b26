"""Shared fixtures: small simulated recordings, the real NWB files and the authors' ViV1T reference
fixtures from ../shared (when present; tests that need them skip otherwise)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nwb_v1former.nwb.convert import convert
from nwb_v1former.simulate import Recording, SimulationConfig, simulate
from nwb_v1former.simulate.write import simulate_and_write

REAL_NWB = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-nwb"
VIV1T_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "viv1t"


@pytest.fixture(scope="session")
def small_config() -> SimulationConfig:
    """80 neurons, 2 minutes of 3-second clips (about 30 trials): enough for every claim, fast."""
    return SimulationConfig(neurons=80, minutes=2.0, clip_seconds=3.0, seed=3)


@pytest.fixture(scope="session")
def recording(small_config: SimulationConfig) -> Recording:
    return simulate(small_config)


@pytest.fixture(scope="session")
def long_recording() -> Recording:
    """More neurons and time, for statistical claims (modulation, ceilings, retinotopy)."""
    return simulate(SimulationConfig(neurons=300, minutes=6.0, clip_seconds=5.0, seed=11))


@pytest.fixture
def real_nwb() -> Path:
    if not REAL_NWB.is_dir():
        pytest.skip(f"real NWB files not present at {REAL_NWB}")
    return REAL_NWB


TRAINING_SIMULATION = {"neurons": 60, "minutes": 1.5, "clip_seconds": 3.0}


@pytest.fixture(scope="session")
def sim_nwb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two simulated animals written as NWB (allen layout)."""
    out = tmp_path_factory.mktemp("train-sim") / "nwb"
    simulate_and_write(out, layout="allen", animals=2, progress=False, seed=7, **TRAINING_SIMULATION)
    return out


@pytest.fixture(scope="session")
def sim_stores(sim_nwb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two animals converted into the common dataset (one folder holding both stores)."""
    out = tmp_path_factory.mktemp("train-stores") / "stores"
    convert([sim_nwb], out, progress=False)
    return out


@pytest.fixture(scope="session")
def one_store(sim_stores: Path) -> Path:
    """The first of the two converted animals: half the cost where one session shows the point."""
    return sorted(path.parent for path in sim_stores.glob("*/meta.json"))[0]


def _viv1t_fixture(name: str) -> dict:
    path = VIV1T_FIXTURES / f"viv1t_reference_{name}.pt"
    if not path.is_file():
        pytest.skip(f"reference fixture {path} not present")
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.fixture(scope="session")
def reference_small() -> dict:
    """The authors' small ViV1T: config, state_dict, inputs and their outputs."""
    return _viv1t_fixture("small")


@pytest.fixture(scope="session")
def reference_full() -> dict:
    """The authors' full-size ViV1T: config, state_dict, inputs and their outputs."""
    return _viv1t_fixture("full")
