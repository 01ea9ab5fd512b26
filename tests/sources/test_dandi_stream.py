"""Streaming (`stream=True`): DANDI assets read in place over HTTP through the same reader."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from stores import assert_same_arrays

from nwb_v1former.errors import SourceError
from nwb_v1former.nwb import remote
from nwb_v1former.nwb.convert import convert
from nwb_v1former.nwb.discover import open_nwb
from nwb_v1former.nwb.remote import RemoteFile
from nwb_v1former.sources import resolve_sources
from sources.dandi_server import OLD, SESSION_0, serve

SOURCE = f"dandiset:000123@{OLD}/{SESSION_0}"


def test_streamed_session_converts_to_the_same_store_as_the_downloaded_one(dandi, tmp_path):
    options = {"api_url": dandi.api_url, "progress": False}
    downloaded = resolve_sources([SOURCE], cache_dir=tmp_path / "cache", **options)[0]
    dandi.reset_counters()
    streamed = resolve_sources([SOURCE], cache_dir=tmp_path / "stream-cache", stream=True, **options)[0]
    assert isinstance(streamed.file, RemoteFile) and str(streamed.file) == SOURCE
    assert not (tmp_path / "stream-cache").exists()  # nothing downloaded
    from_disk = convert([downloaded.session_input], tmp_path / "disk", progress=False)[0]
    from_http = convert([streamed.session_input], tmp_path / "http", progress=False)[0]
    assert from_http.key == from_disk.key and from_http.ticks == from_disk.ticks > 0
    disk = assert_same_arrays(from_disk.folder, from_http.folder)
    assert {"video.npy", "responses.npy", "trials.npz:tier"} <= disk.keys()
    blob_gets = [r for r in dandi.blob_requests() if r[0] == "GET"]
    assert blob_gets and all(header and header.startswith("bytes=") for _, _, header in blob_gets)
    source = json.loads((from_http.folder / "meta.json").read_text())["source"]
    assert source == {
        **json.loads((from_disk.folder / "meta.json").read_text())["source"],
        "path": str(streamed.file),
    }
    assert source["asset_id"] == dandi.asset("000123", OLD, SESSION_0).asset_id


def test_a_server_that_goes_away_mid_stream_gives_one_line(dandi_files, tmp_path, monkeypatch):
    monkeypatch.setattr(remote, "BLOCK_BYTES", 2**14)  # small blocks: the movie is not read at open
    monkeypatch.setattr(remote, "MAX_READ_AHEAD_BLOCKS", 2)
    leaving = serve(dandi_files)
    streamed = resolve_sources(
        [SOURCE], cache_dir=tmp_path, stream=True, api_url=leaving.api_url, progress=False
    )[0]
    with pytest.raises(SourceError) as caught, open_nwb(streamed.file) as nwbfile:
        leaving.stop()
        for container in nwbfile.objects.values():
            if isinstance(getattr(container, "data", None), h5py.Dataset):
                np.asarray(container.data[()])
    assert str(caught.value) == (
        f"{streamed.file}: streaming from {leaving.base_url.removeprefix('http://')} failed after 3 tries "
        "(ConnectionError); check the connection and run again, or drop --stream to download the file instead"
    )
