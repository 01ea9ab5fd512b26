"""In-silico tables into a predictions file: they read back as written with their provenance, replace
earlier ones, leave every other dataset untouched, and are refused for another checkpoint's predictions,
for unknown ROIs and where there are no predictions."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from nwb_checks import dataset_digests
from prediction_helpers import checkpoint_for, simulated_session
from pynwb import NWBHDF5IO

from nwb_v1former.analysis.results import ResultTable, provenance
from nwb_v1former.analysis.tuning import GratingConfig, measure_tuning
from nwb_v1former.errors import SessionError
from nwb_v1former.model.checkpoint import load_checkpoint
from nwb_v1former.nwb.insilico import add_tables
from nwb_v1former.nwb.write import DEFAULT_NAME
from nwb_v1former.pipeline.predict import predict

GRATINGS = GratingConfig(directions=4, periods_px=(12.0,), temporal_hz=(2.0,), frames=8, settle=2)


@pytest.fixture(scope="module")
def predicted(tmp_path_factory):
    """A simulated session with predictions of an untrained checkpoint, and that checkpoint's tuning."""
    root = tmp_path_factory.mktemp("insilico-nwb")
    source, store = simulated_session(root, "allen", planes=1)
    checkpoint = checkpoint_for(store, root / "micro.ckpt")
    predict(checkpoint, source, root / "predicted.nwb", progress=False)
    origin = provenance(checkpoint, store.key, store)
    tuning = measure_tuning(load_checkpoint(checkpoint), store.key, origin, config=GRATINGS).table()
    return source, root / "predicted.nwb", origin, tuning


def test_tables_read_back_beside_the_predictions_and_replace_earlier_ones(predicted, tmp_path: Path):
    _, predictions, origin, tuning = predicted
    path = tmp_path / "file.nwb"
    shutil.copyfile(predictions, path)
    before = dataset_digests(path)
    written = add_tables(path, [tuning], checkpoint_sha256=origin.checkpoint_sha256)
    assert written == [f"/processing/{DEFAULT_NAME}/insilico_tuning"]
    with NWBHDF5IO(path, "r") as io:
        description = io.read().processing[DEFAULT_NAME]["insilico_tuning"].description
    assert origin.checkpoint_sha256 in description and origin.session in description
    attention = ResultTable(
        "insilico_attention",
        "pairs",
        {"attention_summary": ("summary", np.array(["a", "b"])), "r": ("r", np.array([0.5, np.nan]))},
    )
    smaller = ResultTable(
        tuning.name, "again", {name: (text, v[:2]) for name, (text, v) in tuning.columns.items()}
    )
    add_tables(path, [smaller, attention], checkpoint_sha256=origin.checkpoint_sha256)
    with NWBHDF5IO(path, "r") as io:
        module = io.read().processing[DEFAULT_NAME]
        table = module["insilico_tuning"].to_dataframe()
        assert table["roi_id"].tolist() == tuning.column("roi_id")[:2].tolist()  # replaced, not appended
        np.testing.assert_array_equal(table["still_osi"], tuning.column("still_osi")[:2])
        assert module["insilico_tuning"].description == "again"
        assert module["insilico_attention"]["attention_summary"].data[:].tolist() == ["a", "b"]
        assert np.isnan(module["insilico_attention"]["r"].data[1])
    after = dataset_digests(path)
    assert {name: after[name] for name in before if "insilico" not in name} == {
        name: digest for name, digest in before.items() if "insilico" not in name
    }


def test_another_checkpoint_or_unknown_rois_or_no_predictions_are_refused_untouched(
    predicted, tmp_path: Path
):
    source, predictions, origin, tuning = predicted
    path = tmp_path / "file.nwb"
    shutil.copyfile(predictions, path)
    content = path.read_bytes()
    with pytest.raises(SessionError, match="holds predictions of checkpoint"):
        add_tables(path, [tuning], checkpoint_sha256="f" * 64)
    stranger = ResultTable("insilico_tuning", "x", {"roi_id": ("id", np.array([-5]))})
    with pytest.raises(SessionError, match=r"names ROIs \[-5\] that"):
        add_tables(path, [stranger], checkpoint_sha256=origin.checkpoint_sha256)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.nwb"]  # no partial file left behind
    with pytest.raises(SessionError, match="no nwb-v1former predictions in"):
        add_tables(source, [tuning], checkpoint_sha256=origin.checkpoint_sha256)
