"""Predictions into NWB: nothing of the source changes, the module validates, values land on the right
frames and ROIs, any pynwb reader opens it, and re-running replaces or keeps predictions by name."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
import sysconfig
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
from nwb_checks import dataset_digests, serious_findings
from prediction_helpers import MICRO, simulated_session, suite2p_with_movie
from pynwb import NWBHDF5IO, validate
from pynwb.ophys import RoiResponseSeries

from nwb_v1former.data.store import SessionStore
from nwb_v1former.errors import ConfigError, OutputExistsError, SessionError
from nwb_v1former.nwb.convert import convert
from nwb_v1former.nwb.provenance import ModelProvenance, RoiEvaluation
from nwb_v1former.nwb.resample import FrameStream
from nwb_v1former.nwb.timing import series_times
from nwb_v1former.nwb.write import DEFAULT_NAME, write_predictions

ROOT = Path(__file__).resolve().parents[2]
SPEC_SCRIPT = ROOT / "extensions" / "ndx-v1former" / "src" / "spec" / "create_extension_spec.py"


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """layout -> (NWB file, store), simulated once per module."""
    made: dict[str, tuple[Path, object]] = {}

    def get(layout: str):
        if layout not in made:
            made[layout] = simulated_session(tmp_path_factory.mktemp(layout), layout)
        return made[layout]

    return get


def _blocks(store, size: int = 97, scale: float = 1.0):
    """The store's own responses as 'predictions', in blocks that never line up with imaging frames."""
    for first in range(0, store.n_ticks, size):
        yield first, scale * np.asarray(store.responses[first : first + size])


def _provenance(store, **changes) -> ModelProvenance:
    return ModelProvenance(
        model_name="test-model",
        checkpoint_sha256="ab" * 32,
        session_key=store.key,
        config=MICRO.to_dict(),
        model_version="test",
        **changes,
    )


def _write(source, store, out=None, **options):
    """A full copy (`out`) or in place: what these tests check is that nothing of the source changes."""
    predictions = options.pop("predictions", None) or _blocks(store)
    options.setdefault("copy", "full")
    return write_predictions(
        source,
        predictions,
        tick_times=store.times,
        roi_ids=store.roi_ids,
        model=_provenance(store),
        out=out,
        **options,
    )


def _check_source_kept(source: Path, out: Path, modules: set[str]) -> None:
    """Every dataset of the source is byte-identical in `out`, but for a copy's own identifier (and
    creation date, never compared; see test_derived_predictions); everything new lies in `modules`."""
    before, after = dataset_digests(source), dataset_digests(out)
    before.pop("/identifier"), after.pop("/identifier")
    assert {path: after.get(path) for path in before} == before
    assert {path.split("/")[2] for path in set(after) - set(before)} == modules


def _check_values(out: Path, store, name: str = DEFAULT_NAME, scale: float = 1.0) -> None:
    """Each predicted series: the recorded series' ROI rows and clock, and the predictions linearly
    interpolated to its imaging times (NaN outside the predicted ticks)."""
    column_of = {int(roi): column for column, roi in enumerate(store.roi_ids)}
    ticks = np.asarray(store.times)
    with NWBHDF5IO(out, "r") as io:
        module = io.read().processing[name]
        predicted = [s for s in module.data_interfaces.values() if isinstance(s, RoiResponseSeries)]
        assert len(predicted) == len(store.meta["responses"])
        for series in predicted:
            recorded = series.recorded
            assert series.model is module["model"]
            assert series.rois.table is recorded.rois.table
            np.testing.assert_array_equal(series.rois.data[:], recorded.rois.data[:])
            times = series_times(series, series.name)
            np.testing.assert_array_equal(times, series_times(recorded, recorded.name))
            assert series.unit == recorded.unit
            ids = np.asarray(recorded.rois.table.id.data[:])[recorded.rois.data[:]]
            columns = [column_of[int(roi)] for roi in ids]
            data = series.data[:]
            inside = (times >= ticks[0] - 1e-6) & (times <= ticks[-1] + 1e-6)
            assert np.isnan(data[~inside]).all() and np.isfinite(data[inside]).all()
            expected = np.stack(
                [np.interp(times[inside], ticks, scale * store.responses[:, c]) for c in columns], axis=1
            )
            np.testing.assert_allclose(data[inside], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layout", ["allen", "openscope", "microns"])
def test_every_layout_keeps_the_source_and_lands_on_its_frames(sessions, layout, tmp_path):
    source, store = sessions(layout)
    out = tmp_path / "out.nwb"
    written = _write(source, store, out)
    assert written.path == out and not written.replaced
    _check_source_kept(source, out, {DEFAULT_NAME})
    assert validate(path=str(out)) == []
    _check_values(out, store)
    with NWBHDF5IO(out, "r") as io:  # timestamps-based recordings: the predictions share (link) them
        for series in io.read().processing[DEFAULT_NAME].data_interfaces.values():
            if isinstance(series, RoiResponseSeries):
                assert series.timestamps is not None and series.rate is None
    if layout == "openscope":  # one nwbinspector pass (slow); the module is the same for every layout
        assert serious_findings(out) == []


def test_real_suite2p_file_rate_based(real_nwb, tmp_path):
    source = suite2p_with_movie(real_nwb / "neuroconv_nwb_test.nwb", tmp_path / "suite2p.nwb")
    store = SessionStore(convert([source], tmp_path / "store", progress=False)[0].folder)
    out = tmp_path / "out.nwb"
    evaluation = RoiEvaluation("test", 1, {"score": ("A made-up score.", np.linspace(0, 1, store.n_neurons))})
    write_predictions(
        source,
        _blocks(store),
        tick_times=store.times,
        roi_ids=store.roi_ids,
        model=_provenance(store),
        evaluation=evaluation,
        out=out,
        copy="full",
    )
    _check_source_kept(source, out, {DEFAULT_NAME})
    assert validate(path=str(out)) == []
    assert not set(serious_findings(out)) - set(serious_findings(source))
    _check_values(out, store)
    with NWBHDF5IO(out, "r") as io:
        module = io.read().processing[DEFAULT_NAME]
        series = module["RoiResponseSeries"]
        assert series.timestamps is None and (series.rate, series.starting_time) == (10.0, 0.0)
        table = module["evaluation"]
        np.testing.assert_array_equal(table["roi_id"].data[:], store.roi_ids)
        np.testing.assert_allclose(table["score"].data[:], np.linspace(0, 1, store.n_neurons))
        assert set(table["predicted_series"].data[:]) == {"RoiResponseSeries"}


def test_same_name_replaces_another_name_keeps_a_foreign_module_is_refused(sessions, tmp_path):
    source, store = sessions("openscope")
    out = tmp_path / "out.nwb"
    assert not _write(source, store, out).replaced
    assert _write(out, store, in_place=True, predictions=_blocks(store, scale=2.0)).replaced
    kept = _write(out, store, in_place=True, name="second_model")
    assert not kept.replaced and kept.module == "/processing/second_model"
    _check_source_kept(source, out, {DEFAULT_NAME, "second_model"})
    assert validate(path=str(out)) == []
    _check_values(out, store, scale=2.0)  # the rerun's values, not the first run's
    _check_values(out, store, name="second_model")
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    with pytest.raises(
        OutputExistsError, match=r"/processing/ophys exists and is not nwb-v1former predictions"
    ):
        _write(out, store, in_place=True, name="ophys")
    assert hashlib.sha256(out.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nwb"], "no temporary file left behind"


_READER = """
import importlib.util, json, sys
import numpy as np
assert importlib.util.find_spec("nwb_v1former") is None, "nwb_v1former must not be importable here"
from pynwb import NWBHDF5IO
with NWBHDF5IO(sys.argv[1], "r") as io:
    module = io.read().processing["v1former_predictions"]
    model = module["model"]
    series = {
        name: {"sum": float(np.nansum(s.data[:])), "model": s.model is model, "recorded": s.recorded.name}
        for name, s in module.data_interfaces.items()
        if getattr(s, "neurodata_type", None) == "PredictedRoiResponseSeries"
    }
    print(json.dumps({
        "type": model.neurodata_type, "namespace": model.namespace, "sha256": model.checkpoint_sha256,
        "simulated": bool(model.trained_on_simulated_data), "training_data": list(model.training_data[:]),
        "config": json.loads(model.config), "evaluation": json.loads(model.evaluation), "series": series,
        "loaded": sorted(m for m in sys.modules if m.startswith("nwb_v1former")),
    }))
"""


def test_a_reader_without_nwb_v1former_opens_predictions_and_provenance(sessions, tmp_path):
    source, store = sessions("microns")
    out = tmp_path / "out.nwb"
    model = _provenance(
        store,
        trained_on_simulated_data=True,
        training_data=("DANDI:000402/draft/a.nwb",),
        evaluation={"x": 0.25},
    )
    write_predictions(
        source,
        _blocks(store),
        tick_times=store.times,
        roi_ids=store.roi_ids,
        model=model,
        out=out,
        copy="full",
    )
    # -I -S: no user site, no .pth files (so no editable nwb_v1former); site-packages for pynwb itself.
    reader = f"import sys; sys.path.append({sysconfig.get_paths()['purelib']!r})\n" + _READER
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", reader, str(out)], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert (found["type"], found["namespace"], found["loaded"]) == ("V1FormerModel", "ndx-v1former", [])
    assert found["sha256"] == "ab" * 32 and found["simulated"] is True
    assert found["training_data"] == ["DANDI:000402/draft/a.nwb"] and found["evaluation"] == {"x": 0.25}
    assert found["config"] == json.loads(json.dumps(MICRO.to_dict()))
    with NWBHDF5IO(out, "r") as io:
        module = io.read().processing[DEFAULT_NAME]
        for name, seen in found["series"].items():
            assert seen["model"] and seen["recorded"] == name
            assert seen["sum"] == pytest.approx(float(np.nansum(module[name].data[:])), rel=1e-6)


def test_frame_stream_interpolates_and_leaves_gaps_nan():
    rng = np.random.default_rng(1)
    ticks = 10.0 + np.arange(200) / 30.0
    frames = np.unique(np.concatenate([rng.uniform(9.5, 17.2, 250), ticks[[0, 99, 120, 199]]]))
    values = rng.normal(size=(200, 5)).astype(np.float32)
    out = np.full((len(frames), 3), -1.0, np.float32)
    stream = FrameStream(out, frames, ticks, slice(1, 4), block_rows=8)
    for first, stop in [(0, 37), (37, 100), (120, 133), (133, 146), (146, 200)]:  # ticks 100-119 missing
        stream.add(first, values[first:stop])
    stream.finish()
    predicted = ((frames >= ticks[0]) & (frames <= ticks[99])) | (
        (frames >= ticks[120]) & (frames <= ticks[199])
    )
    expected = np.stack([np.interp(frames, ticks, values[:, c]) for c in (1, 2, 3)], axis=1)
    np.testing.assert_allclose(out[predicted], expected[predicted], rtol=1e-6, atol=1e-6)
    assert np.isnan(out[~predicted]).all() and stream.predicted == predicted.sum()
    with pytest.raises(ConfigError, match="tick order"):
        stream.add(150, values[150:160])


def test_bad_input_is_one_line_and_writes_nothing(sessions, tmp_path):
    source, store = sessions("openscope")
    out = tmp_path / "out.nwb"
    cases = [
        (dict(out=out, in_place=True), ConfigError, "either an output file"),
        (dict(), ConfigError, "either an output file"),
        (dict(out=source), ConfigError, "pass --in-place"),
        (dict(out=out, name="a/b"), ConfigError, "prediction name 'a/b'"),
        (dict(out=out, roi_ids=store.roi_ids[::-1]), SessionError, "are not the ROIs of its responses"),
        (dict(out=out, predictions=iter([(0, np.zeros((5, 3)))])), ConfigError, r"shape \(5, 3\)"),
    ]
    for options, error, message in cases:
        roi_ids = options.pop("roi_ids", store.roi_ids)
        predictions = options.pop("predictions", _blocks(store))
        options.setdefault("out", None)
        with pytest.raises(error, match=message) as raised:
            write_predictions(
                source,
                predictions,
                tick_times=store.times,
                roi_ids=roi_ids,
                model=_provenance(store),
                **options,
            )
        assert "\n" not in str(raised.value)
        assert list(tmp_path.iterdir()) == [], "nothing half-written"
    out.write_bytes(b"keep")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        _write(source, store, out)
    assert out.read_bytes() == b"keep"


def test_shipped_spec_is_what_the_script_generates(tmp_path):
    loader = importlib.util.spec_from_file_location("create_extension_spec", SPEC_SCRIPT)
    script = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(script)
    script.main(tmp_path)
    shipped = files("nwb_v1former.nwb.spec")
    for name in ("ndx-v1former.namespace.yaml", "ndx-v1former.extensions.yaml"):
        generated = (tmp_path / name).read_text()
        assert generated == (SPEC_SCRIPT.parents[2] / "spec" / name).read_text()
        assert generated == (shipped / name).read_text(), "the installed package must ship the same spec"
    assert "version: 0.2.0" in (tmp_path / "ndx-v1former.namespace.yaml").read_text()
