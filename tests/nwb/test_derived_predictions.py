"""`predict --out` files that can sit beside their source in a dandiset: a predictions-only derived file
and a full copy, each with its own identifier and object ids, the source's subject and session, the ROI
tables the predictions point at, the trials' split, and provenance without machine paths."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr
from hdmf_zarr.nwb import NWBZarrIO
from prediction_helpers import MICRO, checkpoint_for, simulated_session
from pynwb import NWBHDF5IO, validate
from stores import export_to_zarr

from nwb_v1former.digest import sha256
from nwb_v1former.model.checkpoint import open_checkpoint
from nwb_v1former.nwb.provenance import ModelProvenance
from nwb_v1former.nwb.write import DEFAULT_NAME, predicted_rois, write_predictions
from nwb_v1former.pipeline.predict import model_provenance, session_split
from nwb_v1former.pipeline.train import data_provenance

DANDI = Path(sys.executable).with_name("dandi")


def _blocks(store):
    """The store's own responses as 'predictions', 97 ticks at a time."""
    for first in range(0, store.n_ticks, 97):
        yield first, np.asarray(store.responses[first : first + 97])


def _write(source: Path, store, out: Path, copy: str, model: ModelProvenance | None = None):
    model = model or ModelProvenance("m", "ab" * 32, store.key, MICRO.to_dict(), "test")
    return write_predictions(
        source,
        _blocks(store),
        tick_times=store.times,
        roi_ids=store.roi_ids,
        model=model,
        split=session_split(store),
        out=out,
        copy=copy,
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A two-plane Allen-layout session, and its predictions-only file and full copy."""
    root = tmp_path_factory.mktemp("derived")
    source, store = simulated_session(root, "allen")
    files = {copy: root / f"{copy}.nwb" for copy in ("predictions-only", "full")}
    for copy, out in files.items():
        _write(source, store, out, copy)
    return source, store, files


def _object_ids(path: Path) -> set[str]:
    with h5py.File(path, "r") as handle:
        ids = {str(handle.attrs["object_id"])}
        handle.visititems(
            lambda _, item: ids.add(str(item.attrs["object_id"])) if "object_id" in item.attrs else None
        )
    return ids


def test_each_file_has_its_own_identity_and_the_sources_subject_and_session(written):
    source, _, files = written
    ids = {path.name: _object_ids(path) for path in (source, *files.values())}
    assert sum(len(found) for found in ids.values()) == len(set().union(*ids.values())), (
        "an object id is shared"
    )
    with NWBHDF5IO(source, "r") as io:
        original = io.read()
        identifiers = {original.identifier}
        for copy, path in files.items():
            assert validate(path=str(path)) == []
            with NWBHDF5IO(path, "r") as other:
                nwbfile = other.read()
                identifiers.add(nwbfile.identifier)
                assert nwbfile.session_start_time == original.session_start_time
                assert nwbfile.subject.subject_id == original.subject.subject_id
                assert nwbfile.file_create_date[0] > original.file_create_date[0]
                recorded = nwbfile.processing[DEFAULT_NAME]["source"]
                assert (recorded.file_name, recorded.identifier, recorded.copy) == (
                    source.name,
                    original.identifier,
                    copy,
                )
                assert recorded.file_object_id == original.object_id and recorded.sha256 == sha256(source)
                assert bool(nwbfile.acquisition or nwbfile.stimulus_template) is (copy == "full")
    assert len(identifiers) == 3
    assert files["predictions-only"].stat().st_size < 0.4 * source.stat().st_size


def test_predictions_only_points_at_the_same_rois_with_the_same_values(written):
    _, store, files = written
    with NWBHDF5IO(files["full"], "r") as full_io, NWBHDF5IO(files["predictions-only"], "r") as derived_io:
        full, derived = (io.read().processing[DEFAULT_NAME] for io in (full_io, derived_io))
        assert predicted_rois(derived) == predicted_rois(full)
        assert sorted(predicted_rois(derived)) == sorted(store.roi_ids.tolist())
        for name, series in full.data_interfaces.items():
            if type(series).__name__ != "PredictedRoiResponseSeries":
                continue
            other = derived[name]
            assert (
                other.recorded is None and other.recorded_path == series.recorded.data.name.rsplit("/", 1)[0]
            )
            np.testing.assert_array_equal(other.data[:], series.data[:])
            np.testing.assert_array_equal(other.timestamps[:], series.timestamps[:])
            np.testing.assert_array_equal(other.rois.data[:], series.rois.data[:])
            table, original = other.rois.table, series.rois.table
            np.testing.assert_array_equal(table.id[:], original.id[:])
            for row in (0, len(table) - 1):  # masks kept, as pixel masks (x, y, weight)
                pixels = np.asarray(table["pixel_mask"][row].tolist())
                image = np.asarray(original["image_mask"][row]) if "image_mask" in original.colnames else None
                if image is None:
                    expected = np.asarray(original["pixel_mask"][row].tolist())
                else:
                    x, y = np.nonzero(image)
                    expected = np.stack([x, y, image[x, y]], axis=1)
                np.testing.assert_allclose(pixels, expected, rtol=1e-6)


def test_the_split_table_lists_every_trial_and_pynapple_reads_it(written):
    import pynapple as nap

    _, store, files = written
    trials = store.trials
    for path in files.values():
        with NWBHDF5IO(path, "r") as io:
            split = io.read().processing[DEFAULT_NAME]["split"].to_dataframe()
        order = np.argsort(np.asarray(store.times)[trials.first_tick], kind="stable")
        assert split["tier"].tolist() == trials.tier[order].tolist()
        np.testing.assert_allclose(split["start_time"], np.asarray(store.times)[trials.first_tick[order]])
        assert set(split["tier"]) >= {"train", "test"} and store.meta["tiers"] in io_description(path)
    intervals = nap.load_file(str(files["predictions-only"]))["split"]
    assert isinstance(intervals, nap.IntervalSet) and len(intervals) == len(trials)
    assert (intervals["tier"] == "test").sum() == (trials.tier == "test").sum()


def io_description(path: Path) -> str:
    with NWBHDF5IO(path, "r") as io:
        return io.read().processing[DEFAULT_NAME]["split"].description


@pytest.mark.slow  # 10-30 s: three dandi processes; the identities it relies on are checked above
def test_dandi_organize_and_validate_accept_both_files_beside_their_source(written, tmp_path):
    """The real dandi client, offline: organize files the three under one subject with distinct names,
    validate finds no error; a byte copy of the source (what predict wrote before) is refused."""
    source, _, files = written
    environment = {**os.environ, "DANDI_NO_ET": "1", "DANDI_CACHE": "ignore"}

    def dandi(*args: object, cwd: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(DANDI), *map(str, args)],
            cwd=cwd,
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )

    dandiset = tmp_path / "000999"
    dandiset.mkdir()
    (dandiset / "dandiset.yaml").write_text("identifier: DANDI:000999\nname: test\ndescription: test\n")
    result = dandi("organize", "-J", "1", "-f", "copy", "-d", dandiset, source, *files.values(), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    organized = sorted(p.relative_to(dandiset).as_posix() for p in dandiset.rglob("*.nwb"))
    assert len(organized) == 3 and {p.split("/")[0] for p in organized} == {"sub-sim-5-000"}
    result = dandi("validate", ".", cwd=dandiset)
    assert result.returncode == 0 and "No errors found" in result.stdout, result.stdout + result.stderr

    twin = tmp_path / "twin"
    twin.mkdir()
    shutil.copyfile(source, twin / "copy.nwb")
    refused = dandi(
        "organize", "-J", "1", "-f", "copy", "-d", tmp_path / "other", source, twin / "copy.nwb", cwd=tmp_path
    )
    assert refused.returncode != 0 and "have the same object_id" in refused.stdout + refused.stderr


@pytest.mark.slow  # 10-30 s: a Zarr export, then two Zarr writes; the default suite predicts into Zarr
def test_a_zarr_source_gets_a_zarr_file_of_its_own_either_way(written, tmp_path):
    source, store, _ = written
    zarr_source = export_to_zarr(source, tmp_path / "session.nwb.zarr")
    ids = {}
    for copy in ("predictions-only", "full"):
        out = tmp_path / f"{copy}.nwb.zarr"
        result = _write(zarr_source, store, out, copy)
        assert result.copy == copy
        with NWBZarrIO(str(out), "r") as io:
            nwbfile = io.read()
            assert (
                nwbfile.identifier == result.identifier
                and nwbfile.processing[DEFAULT_NAME]["split"] is not None
            )
            ids[copy] = {obj.object_id for obj in nwbfile.objects.values()}
    with NWBZarrIO(str(zarr_source), "r") as io:
        original = {obj.object_id for obj in io.read().objects.values()}
    assert not ids["full"] & original and not ids["predictions-only"] & original
    assert zarr.open_group(str(zarr_source), "r")["identifier"][0] not in {result.identifier}


def test_provenance_keeps_names_digests_and_the_fit_check_not_machine_paths(written, tmp_path):
    source, store, _ = written
    training = {"session": store.key, "path": "/tmp/lab/run-7/sim-000.nwb", "sha256": "cd" * 32}
    fit_check = {"learned": False, "reasons": ["validation correlation -0.02 <= 0"]}
    checkpoints = {
        "checked": checkpoint_for(
            store,
            tmp_path / "checked.ckpt",
            extra={"provenance": {"training_data": [training], "fit_check": fit_check}},
        ),
        "older": checkpoint_for(
            store, tmp_path / "older.ckpt", extra={"provenance": {"training_data": [training]}}
        ),
    }
    for kind, checkpoint in checkpoints.items():
        model = model_provenance(open_checkpoint(checkpoint), store.key, None)
        assert model.training_data == ("sim-000.nwb",) and model.training_data_sha256 == ("cd" * 32,)
        assert "/tmp/lab" not in json.dumps(model.checkpoint_provenance)
        out = tmp_path / f"{kind}.nwb"
        _write(source, store, out, "predictions-only", model)
        with NWBHDF5IO(out, "r") as io:
            recorded = io.read().processing[DEFAULT_NAME]["model"]
            assert list(recorded.training_data[:]) == ["sim-000.nwb"]
            assert list(recorded.training_data_sha256[:]) == ["cd" * 32]
            if kind == "checked":
                assert (
                    recorded.learned is not None
                    and not recorded.learned
                    and list(recorded.fit_check_reasons[:]) == fit_check["reasons"]
                )
                assert json.loads(recorded.checkpoint_provenance)["fit_check"] == fit_check
            else:
                assert recorded.learned is None and recorded.fit_check_reasons is None


def test_training_data_are_files_by_name_and_sha256_wherever_the_command_ran(written):
    """convert records the file's name and digest (and, for this machine's report, its absolute path);
    what a checkpoint keeps of it has no path."""
    source, store, _ = written
    assert store.meta["source"]["path"] == str(source.resolve())
    (entry,) = data_provenance([store])
    assert (entry["session"], entry["name"], entry["sha256"]) == (store.key, source.name, sha256(source))
    assert "path" not in entry and entry["identifier"] == store.meta["source"]["identifier"]
