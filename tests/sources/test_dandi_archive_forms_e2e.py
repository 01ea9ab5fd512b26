"""From the stand-in archive to a store: a session whose stimulus is in external video assets (downloaded
or streamed) and a Zarr asset convert to the same store as the files they came from."""

from __future__ import annotations

import json

import numpy as np
from stores import assert_same_arrays

from nwb_v1former.nwb.convert import SessionInput, convert
from nwb_v1former.sources import resolve_sources
from sources.archive_forms import STIMULUS, WITH_VIDEOS, ZARR_ONLY


def _convert(item, out):
    return convert([item], out, progress=False)[0]


def test_the_external_video_session_converts_alike_downloaded_streamed_and_from_its_own_files(
    forms, forms_server, tmp_path
):
    options = {"api_url": forms_server.api_url, "progress": False}
    source = f"dandiset:{WITH_VIDEOS}/{forms.nwb}"
    (downloaded,) = resolve_sources([source], cache_dir=tmp_path / "cache", **options)
    (streamed,) = resolve_sources([source], cache_dir=tmp_path / "cache", stream=True, **options)
    local = _convert(SessionInput(forms.files[forms.nwb]), tmp_path / "local")
    from_disk = _convert(downloaded.session_input, tmp_path / "disk")
    from_http = _convert(streamed.session_input, tmp_path / "http")
    arrays = assert_same_arrays(local.folder, from_disk.folder)
    assert_same_arrays(local.folder, from_http.folder)
    shown = set(np.unique(arrays["video.npy"]))
    assert set(np.concatenate(STIMULUS)) <= shown  # every frame of both video files reached the store
    meta = json.loads((from_http.folder / "meta.json").read_text())
    assert meta["source"]["asset_path"] == forms.nwb and meta["stimulus"] == ["/acquisition/StimulusMovie"]


def test_a_zarr_asset_converts_to_the_store_of_the_file_it_was_exported_from(forms, forms_server, tmp_path):
    options = {"api_url": forms_server.api_url, "progress": False}
    (zarr,) = resolve_sources([f"dandiset:{ZARR_ONLY}"], cache_dir=tmp_path / "cache", **options)
    from_zarr = _convert(zarr.session_input, tmp_path / "zarr")
    from_hdf5 = _convert(SessionInput(forms.zarr_source), tmp_path / "hdf5")
    arrays = assert_same_arrays(from_hdf5.folder, from_zarr.folder)
    assert {"video.npy", "responses.npy", "trials.npz:tier"} <= arrays.keys()
    assert json.loads((from_zarr.folder / "meta.json").read_text())["source"]["asset_path"] == zarr.asset.path
