import pytest

from nwb_v1former.errors import ConfigError
from nwb_v1former.simulate import SimulationConfig, layout_config
from nwb_v1former.simulate.schedule import repeat_plan


def test_round_trip_through_dict():
    config = SimulationConfig(neurons=12, minutes=1.5, cortex_size_um=(300.0, 200.0), imaging_phase=0.25)
    assert SimulationConfig.from_dict(config.to_dict()) == config


def test_unknown_key_is_an_error_not_ignored():
    with pytest.raises(ConfigError, match="unknown simulation config keys \\['neuron'\\]"):
        SimulationConfig.from_dict({"neuron": 10})


@pytest.mark.parametrize(
    "field, value",
    [("neurons", 0), ("minutes", -1.0), ("repeats", 1), ("imaging_rate", 0.0), ("timing_jitter", 0.6)],
)
def test_invalid_values_are_refused(field, value):
    with pytest.raises(ConfigError, match=field):
        SimulationConfig(**{field: value})


def test_short_sessions_keep_fewer_repeats_and_too_short_ones_are_refused():
    trials, clips, repeats = repeat_plan(SimulationConfig(minutes=2.0, clip_seconds=3.0))
    assert (trials, clips) == (30, 6) and repeats == 2
    assert repeat_plan(SimulationConfig(minutes=30.0))[2] == 10
    with pytest.raises(ConfigError, match="session too short"):
        repeat_plan(SimulationConfig(minutes=0.5))


def test_layout_defaults():
    assert layout_config("microns").imaging_rate == 6.3
    sensorium = layout_config("sensorium", neurons=5)
    assert (sensorium.imaging_rate, sensorium.imaging_phase, sensorium.timing_jitter) == (30.0, 0.0, 0.0)
    with pytest.raises(ConfigError, match="30 Hz grid"):
        layout_config("sensorium", imaging_rate=10.0)
    with pytest.raises(ConfigError, match="unknown layout 'suite2p'"):
        layout_config("suite2p")
