"""Downloads into the cache: verified against the DANDI digest, done once, resumed after interruptions."""

from __future__ import annotations

import json

import pytest

from nwb_v1former.errors import SourceError
from nwb_v1former.sources import resolve_sources
from nwb_v1former.sources.dandi import DandiAsset
from nwb_v1former.sources.dandi.cache import cache_path
from nwb_v1former.sources.dandi.download import CHUNK_BYTES
from sources.dandi_server import LATEST, OLD, SESSION_0, serve

SOURCE = f"dandiset:000123@{OLD}"  # one session, SESSION_0
DROP = 6 * CHUNK_BYTES
"""Where connections drop: on a chunk boundary, so the client has kept every byte it was sent."""


def fetch(server, cache):
    return resolve_sources([SOURCE], cache_dir=cache, api_url=server.api_url, progress=False)[0]


@pytest.fixture
def served(dandi):
    """The session the tests download, with the server's counters and fault switches reset."""
    dandi.reset_counters()
    yield dandi.asset("000123", OLD, SESSION_0)
    dandi.drop_after, dandi.drops_left = None, 0


def test_download_is_verified_and_then_skipped(dandi, served, tmp_path):
    first = fetch(dandi, tmp_path)
    assert first.file.read_bytes() == dandi.blobs[served.blob]
    assert dandi.bytes_sent == served.size
    record = json.loads((first.file.parent / f".{first.file.name}.verified.json").read_text())
    assert record["dandi_etag"] == served.digest and record["size"] == served.size
    dandi.reset_counters()
    again = fetch(dandi, tmp_path)
    assert again.file == first.file and dandi.blob_requests() == []  # verified before: not fetched again


def test_a_cached_file_changed_on_disk_is_downloaded_again(dandi, served, tmp_path):
    path = fetch(dandi, tmp_path).file
    damaged = bytearray(path.read_bytes())
    damaged[1000] ^= 0xFF
    path.write_bytes(bytes(damaged))
    dandi.reset_counters()
    assert fetch(dandi, tmp_path).file.read_bytes() == dandi.blobs[served.blob]
    assert dandi.bytes_sent == served.size


def test_a_file_already_in_the_cache_without_a_record_is_hashed_not_downloaded(dandi, served, tmp_path):
    path = fetch(dandi, tmp_path).file
    (path.parent / f".{path.name}.verified.json").unlink()
    dandi.reset_counters()
    assert fetch(dandi, tmp_path).file == path and dandi.blob_requests() == []
    assert (path.parent / f".{path.name}.verified.json").is_file()


def test_corrupted_bytes_from_the_server_are_caught(dandi_files, tmp_path):
    server = serve(dandi_files)
    try:
        served = server.asset("000123", OLD, SESSION_0)
        server.corrupt(served.blob)
        with pytest.raises(SourceError) as caught:
            fetch(server, tmp_path)
    finally:
        server.stop()
    target = tmp_path / "000123" / OLD / SESSION_0
    assert str(caught.value).startswith(
        f"dandiset:000123@{OLD}/{SESSION_0}: the downloaded file does not match its DANDI digest "
        f"(expected {served.digest}, got "
    )
    assert str(caught.value).endswith("it was deleted: run again to download it afresh")
    assert not target.exists() and not target.with_name(target.name + ".partial").exists()


def test_a_dropped_connection_is_resumed_with_a_range_request(dandi, served, tmp_path):
    dandi.drop_after, dandi.drops_left = DROP, 1
    item = fetch(dandi, tmp_path)
    assert item.file.read_bytes() == dandi.blobs[served.blob]
    ranges = [header for method, _, header in dandi.blob_requests() if method == "GET"]
    assert ranges == [None, f"bytes={DROP}-"]
    assert dandi.bytes_sent == served.size  # nothing fetched twice


def test_a_server_that_goes_away_leaves_the_partial_file_and_the_next_run_resumes(
    dandi, served, dandi_files, tmp_path
):
    leaving = serve(dandi_files)
    leaving.drop_after, leaving.drops_left, leaving.vanish_on_drop = DROP, 1, True
    with pytest.raises(SourceError) as caught:
        fetch(leaving, tmp_path)
    message = str(caught.value)
    assert message.startswith(f"dandiset:000123@{OLD}/{SESSION_0}: download interrupted at {DROP:,} of ")
    assert message.endswith("the partial file is kept: run again to resume") and "\n" not in message
    partial = tmp_path / "000123" / OLD / f"{SESSION_0}.partial"
    assert partial.stat().st_size == DROP
    item = fetch(dandi, tmp_path)  # the server is back (on another port: the cache does not care)
    assert item.file.read_bytes() == dandi.blobs[served.blob] and not partial.exists()
    assert [h for m, _, h in dandi.blob_requests() if m == "GET"] == [f"bytes={DROP}-"]
    assert dandi.bytes_sent == served.size - DROP


def test_two_versions_of_one_asset_live_side_by_side(dandi, tmp_path):
    old = fetch(dandi, tmp_path)
    latest = resolve_sources(
        [f"dandiset:000123@{LATEST}/{SESSION_0}"], cache_dir=tmp_path, api_url=dandi.api_url, progress=False
    )[0]
    assert old.file == tmp_path / "000123" / OLD / SESSION_0 and old.file.is_file()
    assert latest.file == tmp_path / "000123" / LATEST / SESSION_0 and latest.file.is_file()


ESCAPING = ["../x.nwb", "sub-01/../../x.nwb", "/etc/x.nwb", "C:/x.nwb", "a\\..\\x.nwb", "a//x.nwb", ""]


@pytest.mark.parametrize("path", ESCAPING)
def test_every_form_of_escaping_asset_path_is_refused(tmp_path, path):
    asset = DandiAsset("000123", "draft", path, "id", 1, "digest-1", "http://h/d", "http://h/api")
    with pytest.raises(SourceError, match=r"would leave the cache folder .*; refused"):
        cache_path(tmp_path, asset)
    assert cache_path(tmp_path, DandiAsset("000123", "draft", "sub-01/a.nwb", "id", 1, "d", "u", "a")) == (
        tmp_path / "000123" / "draft" / "sub-01" / "a.nwb"
    )
