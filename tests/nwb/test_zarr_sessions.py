"""NWB files in the Zarr backend (`.nwb.zarr`), written as the Allen mindscope migration wrote them
(hdmf-zarr's `NWBZarrIO.export` of the HDF5 file): read tick by tick as the HDF5 original is, found in
folders beside other things, predicted into a Zarr copy, and refused in one line when damaged."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import zarr
from archive_layouts import write_visual_behavior
from click.testing import CliRunner
from hdmf_zarr.nwb import NWBZarrIO
from hdmf_zarr.utils import ZarrReference
from nwb_builders import write_session
from nwb_v1former.cli.main import main
from prediction_helpers import MICRO, checkpoint_for, simulated_session
from pynwb import NWBHDF5IO
from stores import assert_same_arrays, export_to_zarr

from nwb_v1former.analysis.results import ResultTable
from nwb_v1former.data.store import SessionStore
from nwb_v1former.digest import sha256
from nwb_v1former.errors import OutputExistsError, SessionError
from nwb_v1former.nwb.convert import convert
from nwb_v1former.nwb.discover import file_identifier, open_nwb, opened_source
from nwb_v1former.nwb.insilico import add_tables
from nwb_v1former.nwb.provenance import ModelProvenance
from nwb_v1former.nwb.write import DEFAULT_NAME, write_predictions
from nwb_v1former.nwb.zarr_codecs import CheckedBlosc, PlainPickle, register_safe_codecs
from nwb_v1former.simulate import simulate_and_write

SMALL = {"neurons": 12, "minutes": 0.5, "clip_seconds": 1.0, "planes": 2, "seed": 5}


def cli(*args: object):
    return CliRunner().invoke(main, [str(arg) for arg in args])


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> tuple[Path, Path, Path, SessionStore]:
    """A simulated allen-layout session (HDF5), its Zarr export, an untrained checkpoint for it and the
    session converted."""
    root = tmp_path_factory.mktemp("zarr-sim")
    nwb, converted = simulated_session(root, "allen", planes=1)
    checkpoint = checkpoint_for(converted, root / "micro.ckpt")
    return nwb, export_to_zarr(nwb, root / "sim.nwb.zarr"), checkpoint, converted


@pytest.mark.parametrize("layout", ["allen", "microns", "visual_behavior"])
def test_a_zarr_export_converts_to_the_same_store_array_by_array(layout, tmp_path):
    """Video tick by tick, responses, behaviour, trials: an IndexSeries into Images (allen), one long
    movie read frame by frame (microns), AllenSDK's flashes and ellipse eye tracking (visual behavior)."""
    if layout == "visual_behavior":
        nwb = write_visual_behavior(tmp_path / "vb.nwb")[0]
    else:
        nwb = simulate_and_write(tmp_path / "sim", layout=layout, progress=False, **SMALL)[0].data
    store = export_to_zarr(nwb, tmp_path / "session.nwb.zarr")
    hdf5 = convert([nwb], tmp_path / "from-hdf5", progress=False)[0]
    from_zarr = convert([store], tmp_path / "from-zarr", progress=False)[0]
    assert from_zarr.key == hdf5.key and from_zarr.source == store
    found = assert_same_arrays(hdf5.folder, from_zarr.folder)
    assert {"video.npy", "responses.npy", "behavior.npy", "pupil_center.npy", "times.npy"} <= set(found)
    assert any(name.startswith("trials.npz:") for name in found)
    meta_hdf5, meta_zarr = (json.loads((s.folder / "meta.json").read_text()) for s in (hdf5, from_zarr))
    assert meta_zarr["source"].pop("path") == str(store)
    assert meta_zarr["source"].pop("name") == store.name and "sha256" not in meta_zarr["source"]
    meta_hdf5["source"].pop("path"), meta_hdf5["source"].pop("name"), meta_hdf5["source"].pop("sha256")
    assert meta_zarr == meta_hdf5


def test_open_nwb_says_where_a_file_came_from_and_keys_drop_both_suffixes(simulated, tmp_path):
    nwb, store, _, _ = simulated
    with open_nwb(store) as nwbfile:
        assert opened_source(nwbfile) == store
    with open_nwb(nwb) as nwbfile:
        assert opened_source(nwbfile) == nwb
    assert file_identifier(store) == file_identifier(nwb) == nwbfile.identifier
    lab = export_to_zarr(write_session(tmp_path / "lab.nwb"), tmp_path / "lab.nwb.zarr")  # no subject
    assert convert([lab], tmp_path / "store", progress=False)[0].key == "lab"


def test_inspect_reads_a_zarr_store_as_it_reads_the_hdf5_file(simulated):
    nwb, store, _, _ = simulated
    result = cli("inspect", store)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{store}  (NWB 2.") and "will use:" in result.stdout
    (as_json,), (original,) = (json.loads(cli("inspect", path, "--json").stdout) for path in (store, nwb))
    assert as_json.pop("path") == str(store) and original.pop("path") == str(nwb)
    assert as_json["will_use"] is not None
    assert {key: as_json[key] for key in original} == original


def test_a_folder_converts_every_session_and_says_what_it_left_out(simulated, tmp_path):
    _, store, _, _ = simulated
    folder = tmp_path / "lab"
    folder.mkdir()
    write_session(folder / "mouse-a.nwb")
    shutil.copytree(store, folder / "mouse-b.nwb.zarr")
    zarr.open_group(str(folder / "masks.zarr"), mode="w").create_dataset("labels", data=np.arange(4))
    (folder / "README.md").write_text("two mice")
    (folder / "eye.mp4").write_bytes(b"\0" * 16)
    result = cli("convert", folder, "--out", tmp_path / "store", "--json")
    assert result.exit_code == 0, result.output
    sources = [Path(row["source"]).name for row in json.loads(result.stdout)["sessions"]]
    assert sources == ["mouse-a.nwb", "mouse-b.nwb.zarr"]
    assert f"skipped {folder / 'masks.zarr'}: a Zarr store whose root is not an NWBFile" in result.stderr
    assert "skipped 2 file(s)" in result.stderr and "README.md, eye.mp4" in result.stderr
    shutil.copytree(store, folder / "mouse-a.nwb.zarr")
    twins = cli("convert", folder, "--out", tmp_path / "refused")
    assert twins.exit_code == 1 and twins.output.strip().splitlines() == [
        f"Error: {folder}: mouse-a.nwb and mouse-a.nwb.zarr are one session in two formats; give one of "
        "them, or move the other out of the folder"
    ]
    assert not (tmp_path / "refused").exists()


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_predict_writes_a_zarr_copy_that_reads_back_with_the_hdf5_predictions(simulated, tmp_path):
    nwb, store, checkpoint, _ = simulated
    before = _digests(store)
    out, reference = tmp_path / "predicted.nwb.zarr", tmp_path / "predicted.nwb"
    for source, target in ((store, out), (nwb, reference)):
        result = cli("predict", checkpoint, source, "--out", target, "--copy", "full", "--quiet")
        assert result.exit_code == 0, result.output
    assert _digests(store) == before, "the source is only read"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predicted.nwb", "predicted.nwb.zarr"]
    with NWBZarrIO(str(out), "r") as io, NWBHDF5IO(reference, "r") as hdf5:
        module, expected = io.read().processing[DEFAULT_NAME], hdf5.read().processing[DEFAULT_NAME]
        assert sorted(module.data_interfaces) == sorted(expected.data_interfaces)
        assert module["model"].checkpoint_sha256 == sha256(checkpoint)
        for name, series in expected.data_interfaces.items():
            if hasattr(series, "recorded"):
                assert module[name].recorded.name == series.recorded.name
                assert np.array_equal(module[name].data[:], series.data[:], equal_nan=True), name
    refused = cli("predict", checkpoint, store, "--out", tmp_path / "copy.nwb")
    assert refused.exit_code == 1 and "name --out *.nwb.zarr" in refused.output


def _blocks(converted: SessionStore, fail_after: int | None = None):
    """The session's own responses as predictions, 97 ticks at a time; an error after `fail_after`."""
    for number, first in enumerate(range(0, converted.n_ticks, 97)):
        if number == fail_after:
            raise RuntimeError("killed")
        yield first, np.asarray(converted.responses[first : first + 97])


def _write(source: Path, converted: SessionStore, **options):
    model = ModelProvenance("zarr-test", "ab" * 32, converted.key, MICRO.to_dict(), "test")
    blocks = _blocks(converted, options.pop("fail_after", None))
    return write_predictions(
        source, blocks, tick_times=converted.times, roi_ids=converted.roi_ids, model=model, **options
    )


def test_a_zarr_store_takes_predictions_in_place_and_tables_whole_or_not_at_all(simulated, tmp_path):
    _, store, _, converted = simulated
    source = shutil.copytree(store, tmp_path / "session.nwb.zarr")
    before = _digests(source)
    with pytest.raises(RuntimeError, match="killed"):
        _write(source, converted, in_place=True, fail_after=2)
    assert _digests(source) == before and [p.name for p in tmp_path.iterdir()] == ["session.nwb.zarr"]
    written = _write(source, converted, in_place=True)
    assert written.path == source and written.predicted_frames > 0.9 * written.frames
    assert [p.name for p in tmp_path.iterdir()] == ["session.nwb.zarr"], "swapped in one step, no leftover"
    with open_nwb(source) as nwbfile:
        assert {"ophys", DEFAULT_NAME} <= set(nwbfile.processing)
    with pytest.raises(OutputExistsError, match="is not an NWB file nwb-v1former wrote predictions into"):
        _write(source, converted, out=shutil.copytree(store, tmp_path / "plain.nwb.zarr"), overwrite=True)

    roi_ids = np.asarray(converted.roi_ids)
    table = ResultTable("insilico_probe", "a probe", {"roi_id": ("id", roi_ids), "x": ("x", 0.5 * roi_ids)})
    tables = add_tables(source, [table], checkpoint_sha256="ab" * 32)
    assert tables == [f"/processing/{DEFAULT_NAME}/insilico_probe"]
    with NWBZarrIO(str(source), "r") as io:
        probe = io.read().processing[DEFAULT_NAME]["insilico_probe"].to_dataframe()
    assert np.array_equal(probe["x"], 0.5 * roi_ids)


def test_a_damaged_or_empty_store_is_one_error_line(simulated, tmp_path):
    _, store, _, _ = simulated
    empty = tmp_path / "empty.nwb.zarr"
    empty.mkdir()
    masks = tmp_path / "masks.zarr"
    zarr.open_group(str(masks), mode="w").create_dataset("labels", data=np.arange(4))
    damaged = shutil.copytree(store, tmp_path / "damaged.nwb.zarr")
    data = next(damaged.glob("processing/ophys/*/*/data"))
    chunk = next(path for path in data.iterdir() if not path.name.startswith("."))
    chunk.write_bytes(chunk.read_bytes()[:40])
    expected = {
        empty: "not a readable Zarr store",
        masks: "a Zarr store without an NWB version; it is not an NWB file",
        damaged: "whose header says",  # refused before c-blosc reads past the chunk's end
    }
    for path, problem in expected.items():
        result = cli("convert", path, "--out", tmp_path / "out")
        lines = result.output.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1, result.output
        assert lines[0].startswith(f"Error: {path}") and problem in lines[0], lines[0]
    assert cli("inspect", empty).exit_code == 1 and not (tmp_path / "out").exists()


def test_a_blosc_chunk_is_decoded_only_when_its_header_matches_its_length():
    """c-blosc trusts the header's byte count; a short chunk made it read past the buffer (a segfault)."""
    register_safe_codecs()
    codec = numcodecs.get_codec({"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 1})
    assert isinstance(codec, CheckedBlosc)
    values = np.linspace(0, 1, 5000, dtype="f4")
    chunk = codec.encode(values)
    assert np.array_equal(np.frombuffer(codec.decode(chunk), "f4"), values)
    for damaged, problem in ((chunk[:40], "whose header says"), (chunk[:9], "shorter than its header")):
        with pytest.raises(ValueError, match=problem):
            codec.decode(damaged)
    with pytest.raises(ValueError, match=f"{len(chunk) + 3} bytes whose header says {len(chunk)}"):
        codec.decode(chunk + b"abc")


def test_a_pickle_naming_anything_but_what_hdmf_zarr_writes_is_refused_unrun(simulated, tmp_path):
    """hdmf-zarr pickles object references by default; a pickle is code, so only its own types decode."""
    _, store, _, _ = simulated
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return open, (str(marker), "w")

    hostile = shutil.copytree(store, tmp_path / "hostile.nwb.zarr")
    references = zarr.open_array(str(hostile / "stimulus/templates/natural_movies/order_of_images"), "r+")
    assert [f.codec_id for f in references.filters or []] == ["pickle"], "hdmf-zarr's default codec"
    chunk = pickle.dumps(np.array([Payload()] * references.shape[0], dtype=object), protocol=5)
    compressor = references.compressor
    (hostile / "stimulus/templates/natural_movies/order_of_images/0").write_bytes(
        compressor.encode(chunk) if compressor is not None else chunk
    )
    rows = np.array(  # a TimeIntervals' timeseries column, as hdmf-zarr pickles it
        [(0, 2, ZarrReference(source=".", path="/acquisition/probe"), "a", 0.5)],
        dtype=[("idx_start", "<i4"), ("count", "<i4"), ("timeseries", "O"), ("label", "O"), ("x", "<f8")],
    )
    decoded = PlainPickle().decode(numcodecs.Pickle().encode(rows))
    assert decoded.tolist() == rows.tolist() and isinstance(decoded[0]["timeseries"], ZarrReference)
    with (
        pytest.raises(SessionError, match=r"a pickled io.open is not what hdmf-zarr writes"),
        open_nwb(hostile),
    ):
        pass
    assert not marker.exists()
